"""What Tina's double-BOS rollouts change on the tiny world: the sampler vs the policy the loss scores, and training.

    HF_HUB_OFFLINE=1 python benchmarks/bench_rollout_double_bos.py [--out double_bos.json]   # ~10 min on 2 cores

Tina's rollouts were sampled after two BOS tokens and scored with one (`rollout_double_bos`, docs/fidelity.md).
1. Off-policy gap: completions sampled at T 0.7 after two BOS by the tiny world's base model and by the tiny run's
   last checkpoint; per sampled token, log p(after two BOS) - log p(after one BOS) at the same temperature (its mean
   estimates KL(sampler || scored policy)), and the rewards of completions sampled after one vs two BOS.
2. Training: the `tiny` recipe with the switch off (the cached tiny run) and on, same seed: the step where the
   format reward's 5-step mean first reaches 0.5, and the mean rewards of the last 10 steps.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from tina_utils import worlds  # noqa: E402
from tina_utils.data.train_sets import load_raw, prepare_train_dataset  # noqa: E402
from tina_utils.phase.logs import load_logs  # noqa: E402
from tina_utils.train import ensure_tiny_run, load_recipe, reward_functions, train  # noqa: E402

N_PROMPTS, G, TEMPERATURE, MAX_NEW = 64, 8, 0.7, 64


def load(adapter=None):
    """The tiny world's model (with `adapter` when given) and tokenizer."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = worlds.resolve_model("tina-tiny")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa")
    model = PeftModel.from_pretrained(model, adapter) if adapter else model
    return model.eval(), AutoTokenizer.from_pretrained(path, padding_side="left")


def completion_logps(model, prompts, completions, pad_id):
    """Per-token log-probs (logits / T) of `completions` after `prompts`, and the completion mask."""
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(p + c) for p, c in zip(prompts, completions)],
                                          batch_first=True, padding_value=pad_id, padding_side="left")
    attention = torch.nn.utils.rnn.pad_sequence([torch.ones(len(p) + len(c)) for p, c in zip(prompts, completions)],
                                                batch_first=True, padding_side="left").long()
    width = max(len(c) for c in completions)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attention).logits[:, -width - 1:-1] / TEMPERATURE
    targets = torch.stack([torch.tensor([pad_id] * (width - len(c)) + c) for c in completions])
    mask = torch.stack([torch.tensor([0] * (width - len(c)) + [1] * len(c)) for c in completions]).bool()
    return torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1), mask


def sample(model, tokenizer, prompt_ids):
    """G completions per prompt, sampled at T 0.7 (token ids up to and including EOS)."""
    torch.manual_seed(0)
    batch = tokenizer.pad({"input_ids": [ids for ids in prompt_ids for _ in range(G)]}, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**batch, do_sample=True, temperature=TEMPERATURE, top_k=0, max_new_tokens=MAX_NEW,
                             pad_token_id=tokenizer.pad_token_id)
    completions = []
    for row in out[:, batch["input_ids"].size(1):].tolist():
        end = row.index(tokenizer.eos_token_id) + 1 if tokenizer.eos_token_id in row else len(row)
        completions.append(row[:end])
    return completions


def mean_rewards(completions, dataset, tokenizer) -> dict:
    """The tiny recipe's rewards (format, accuracy) averaged over the completions."""
    texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
    solutions = [s for s in dataset["solution"] for _ in range(G)]
    result = {}
    for func in reward_functions(load_recipe("tiny")):
        scores = func(prompts=None, completions=[[{"role": "assistant", "content": t}] for t in texts],
                      solution=solutions)
        result[func.__name__] = round(sum(s or 0.0 for s in scores) / len(scores), 3)
    return result


def off_policy_gap(adapter, label, dataset) -> dict:
    """Sampler vs scored policy, and the rewards after one vs two BOS, for one model."""
    model, tokenizer = load(adapter)
    one = tokenizer.apply_chat_template(list(dataset["prompt"]), add_generation_prompt=True)["input_ids"]
    two = [[tokenizer.bos_token_id, *ids] for ids in one]
    completions = sample(model, tokenizer, two)
    repeat = [ids for ids in one for _ in range(G)]
    sampler, mask = completion_logps(model, [ids for ids in two for _ in range(G)], completions,
                                     tokenizer.pad_token_id)
    scored, _ = completion_logps(model, repeat, completions, tokenizer.pad_token_id)
    gap = (sampler - scored)[mask]
    beyond_2x = (((sampler - scored) * mask).sum(1).abs() > torch.tensor(2.0).log()).float().mean()
    return {"model": label, "tokens": int(mask.sum()), "kl_per_token": round(gap.mean().item(), 4),
            "mean_abs_log_ratio": round(gap.abs().mean().item(), 4),
            "sequences_ratio_beyond_2x": round(beyond_2x.item(), 3),
            "rewards_two_bos": mean_rewards(completions, dataset, tokenizer),
            "rewards_one_bos": mean_rewards(sample(model, tokenizer, one), dataset, tokenizer)}


def training_effect(run_dir, label) -> dict:
    """When the format reward rose and where the rewards ended, from a run's log."""
    logs = load_logs(run_dir)
    rolling = logs["format_reward"].rolling(5).mean()
    rise = logs["step"][rolling >= 0.5]
    last = logs.tail(10)
    return {"run": label, "format_rise_step": int(rise.iloc[0]) if len(rise) else None,
            "last10_format": round(last["format_reward"].mean(), 3),
            "last10_accuracy": round(last["accuracy_reward"].mean(), 3),
            "last10_reward": round(last["reward"].mean(), 3)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the result as JSON")
    args = parser.parse_args(argv)
    dataset = prepare_train_dataset("tiny", load_raw("tiny", seed=1, n=N_PROMPTS), seed=1)
    baseline = ensure_tiny_run()
    work = Path(tempfile.mkdtemp(prefix="double-bos-"))
    train(load_recipe("tiny", rollout_double_bos=True, run_id="tiny-double-bos"), work / "tiny-double-bos")
    result = {"off_policy": [off_policy_gap(None, "base (warm start)", dataset),
                             off_policy_gap(str(baseline / "checkpoint-75"), "tiny run, checkpoint-75", dataset)],
              "training": [training_effect(baseline, "switch off"),
                           training_effect(work / "tiny-double-bos", "rollout_double_bos")]}
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
