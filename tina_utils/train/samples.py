"""A handful of sampled completions from a base model or a checkpoint, scored by the recipe's rewards (notebook 02)."""

import pandas as pd


def sample_completions(recipe, rows: list[dict], adapter=None, max_new_tokens: int = 64, seed: int = 0,
                       temperature: float | None = None) -> pd.DataFrame:
    """Generate one completion per dataset row (`prompt`, `solution`) and score it with the recipe's rewards."""
    import torch
    from peft import PeftModel

    from tina_utils import env
    from tina_utils.train.runner import load_model_and_tokenizer, reward_functions

    model, tokenizer = load_model_and_tokenizer(recipe)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    device = "cuda" if torch.cuda.is_available() and not recipe.use_cpu else "cpu"
    model.to(device).eval()
    prompts = [row["prompt"] for row in rows]
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    env.seed_everything(seed)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=True, top_k=0,
                             temperature=temperature or recipe.temperature, pad_token_id=tokenizer.pad_token_id)
    completions = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    table = pd.DataFrame({"problem": [p[-1]["content"] for p in prompts], "solution": [r["solution"] for r in rows],
                          "completion": completions})
    extra = {key: [row[key] for row in rows] for key in rows[0] if key not in ("prompt", "completion")}
    for func in reward_functions(recipe):
        table[func.__name__] = func(completions, prompts=prompts, **extra)
    return table
