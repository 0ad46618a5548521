"""Generation backends for evaluation: vLLM multi-LoRA, transformers + PEFT, merge-then-reload.

Every backend is opened once per sweep with `open_backend(name, base_model, adapters, preset)` and returns an
object whose `generate(checkpoint, prompt_ids, seeds)` gives one dict per prompt with the same keys:
`text`, `n_tokens` (completion tokens, end-of-sequence included), `hit_limit` (stopped by the token budget).
Used in: core.py (03_evaluate).
"""

import gc
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from tina_utils import env
from tina_utils.devices import attention, vllm_available
from tina_utils.evaluate.adapters import adapter_config, choose_max_lora_rank

RESULT_KEYS = ("text", "n_tokens", "hit_limit")


# ---------------------------------------------------------------- transformers + PEFT
def _torch_dtype(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]


def _row_sampler(seeds, temperature: float, top_p: float):
    """A logits processor that samples every row with its own seeded generator and masks all other tokens.

    Greedy decoding then picks exactly the sampled token, so a sample depends on its own seed only, not on
    which other prompts share its batch (resuming a killed run regenerates the same completions).
    """
    import torch

    generators = []

    def process(input_ids, scores):
        if not generators:
            generators.extend(torch.Generator(device=scores.device).manual_seed(int(s)) for s in seeds)
        logits = scores.float()
        if temperature <= 0:
            picks = logits.argmax(-1, keepdim=True)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            drop = sorted_probs.cumsum(-1) - sorted_probs > top_p  # keep the smallest set reaching top_p
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            picks = torch.stack([order[i, torch.multinomial(sorted_probs[i], 1, generator=g)]
                                 for i, g in enumerate(generators)])
        return torch.full_like(scores, float("-inf")).scatter(-1, picks, 0.0)

    return process


def _hf_generate(model, tokenizer, prompt_ids, seeds, preset, max_len):
    """Batched, left-padded sampling; completions cut to each row's own budget (max_len - prompt)."""
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    budgets = [max(1, min(preset.max_new_tokens, max_len - len(p))) for p in prompt_ids]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    width = max(len(p) for p in prompt_ids)
    ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompt_ids])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompt_ids])
    config = GenerationConfig(do_sample=False, max_new_tokens=max(budgets), pad_token_id=pad,
                              eos_token_id=tokenizer.eos_token_id)
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config,
                             logits_processor=LogitsProcessorList([_row_sampler(seeds, preset.temperature,
                                                                                preset.top_p)]))
    results = []
    for row, budget in zip(out[:, width:].tolist(), budgets):
        row = row[:budget]
        ended = tokenizer.eos_token_id in row
        n_tokens = row.index(tokenizer.eos_token_id) + 1 if ended else len(row)
        text = tokenizer.decode(row[:n_tokens], skip_special_tokens=True)
        results.append({"text": text, "n_tokens": n_tokens, "hit_limit": not ended and n_tokens >= budget})
    return results


def open_transformers(base_model: str, adapters: dict, preset, device: str | None = None):
    """Load the base model once; switch PEFT adapters per checkpoint (load_adapter + set_adapter, no merging)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=_torch_dtype(preset.dtype),
                                                 attn_implementation=attention("sdpa", preset.dtype == "bfloat16"))
    model = model.to(device).eval()
    max_len = min(preset.max_model_len or 10**9, getattr(model.config, "max_position_embeddings", 10**9))
    state = {"peft": None, "active": None}

    def activate(name):
        path = adapters[name]
        if path is None or name == state["active"]:
            return
        if state["peft"] is None:
            state["peft"] = PeftModel.from_pretrained(model, str(path), adapter_name=name).eval()
        else:
            state["peft"].load_adapter(str(path), adapter_name=name)
            state["peft"].set_adapter(name)
            state["peft"].delete_adapter(state["active"])  # keep one adapter in memory during long sweeps
        state["active"] = name

    def generate(name, prompt_ids, seeds):
        activate(name)
        if adapters[name] is None and state["peft"] is not None:
            with state["peft"].disable_adapter():
                return _hf_generate(state["peft"], tokenizer, prompt_ids, seeds, preset, max_len)
        return _hf_generate(state["peft"] or model, tokenizer, prompt_ids, seeds, preset, max_len)

    return SimpleNamespace(generate=generate, close=lambda: None, name="transformers")


# ---------------------------------------------------------------- vLLM
def open_vllm(base_model: str, adapters: dict, preset):
    """One vLLM engine with enable_lora; each checkpoint is served as a LoRARequest."""
    from vllm import LLM, SamplingParams  # lazy: the module imports without vllm
    from vllm.lora.request import LoRARequest

    ranks = [adapter_config(p)["r"] for p in adapters.values() if p is not None]
    kwargs = {}
    if ranks:
        kwargs = dict(enable_lora=True, max_lora_rank=choose_max_lora_rank(ranks, preset.max_lora_rank),
                      max_loras=1, max_cpu_loras=len(ranks))
    llm = LLM(model=str(base_model), dtype=preset.dtype, max_model_len=preset.max_model_len,
              gpu_memory_utilization=preset.gpu_memory_utilization, seed=preset.seeds[0], **kwargs)
    engine = llm.llm_engine
    config = getattr(engine, "model_config", None) or engine.vllm_config.model_config
    max_len = config.max_model_len
    lora_ids = {name: i + 1 for i, name in enumerate(adapters)}

    def generate(name, prompt_ids, seeds):
        path = adapters[name]
        request = LoRARequest(name, lora_ids[name], str(path)) if path is not None else None
        params = [SamplingParams(n=1, temperature=preset.temperature, top_p=preset.top_p, seed=int(seed),
                                 max_tokens=max(1, min(preset.max_new_tokens, max_len - len(p))))
                  for p, seed in zip(prompt_ids, seeds)]
        outputs = llm.generate([{"prompt_token_ids": list(p)} for p in prompt_ids], params,
                               lora_request=request, use_tqdm=False)
        return [{"text": o.outputs[0].text, "n_tokens": len(o.outputs[0].token_ids),
                 "hit_limit": o.outputs[0].finish_reason == "length"} for o in outputs]

    def close():
        nonlocal llm
        del llm
        _free_gpu()

    return SimpleNamespace(generate=generate, close=close, name="vllm")


def _free_gpu():
    """Release GPU memory held by a closed engine before the next one starts."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


# ---------------------------------------------------------------- merge then reload (Tina's path)
def merge_adapter(base_model: str, adapter_path, out_dir, dtype: str = "bfloat16") -> Path:
    """Tina's merge_post_trained_models: base + adapter -> merge_and_unload -> save (with the base tokenizer)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=_torch_dtype(dtype))
    merged = PeftModel.from_pretrained(base, str(adapter_path)).merge_and_unload()
    merged.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(base_model).save_pretrained(out_dir)
    return Path(out_dir)


def open_merged(base_model: str, adapters: dict, preset, engine: str = "transformers"):
    """Per checkpoint: merge, save, reload a fresh engine on the merged weights, generate, clean up."""
    opener = {"transformers": open_transformers, "vllm": open_vllm}[engine]
    state = {"name": None, "backend": None, "dir": None}
    scratch = env.tina_home() / "merged"
    scratch.mkdir(parents=True, exist_ok=True)

    def release():
        if state["backend"] is not None:
            state["backend"].close()
            state["backend"] = None
            _free_gpu()
        if state["dir"] is not None:
            shutil.rmtree(state["dir"], ignore_errors=True)
            state["dir"] = None

    def generate(name, prompt_ids, seeds):
        if name != state["name"]:
            release()
            model_dir = base_model
            if adapters[name] is not None:
                state["dir"] = tempfile.mkdtemp(prefix=f"{name}-", dir=scratch)
                model_dir = str(merge_adapter(base_model, adapters[name], state["dir"], preset.dtype))
            state["backend"], state["name"] = opener(model_dir, {name: None}, preset), name
        return state["backend"].generate(name, prompt_ids, seeds)

    return SimpleNamespace(generate=generate, close=release, name=f"merged_{engine}")


BACKENDS = {
    "transformers": open_transformers,
    "vllm": open_vllm,
    "merged_transformers": lambda m, a, p: open_merged(m, a, p, "transformers"),
    "merged_vllm": lambda m, a, p: open_merged(m, a, p, "vllm"),
}


def resolve_backend(name: str) -> str:
    """Map "auto"/"merged" to a concrete backend for this machine; reject unknown names with the valid list."""
    if name == "auto":
        return "vllm" if vllm_available() else "transformers"
    if name == "merged":
        return "merged_vllm" if vllm_available() else "merged_transformers"
    if name not in BACKENDS:
        valid = ["auto", "merged", *BACKENDS]
        close = env.closest_first(name, valid)
        raise ValueError(f"unknown backend {name!r}; valid names: {', '.join(close)}")
    if name.endswith("vllm") and not vllm_available():
        raise RuntimeError(f"backend {name!r} needs CUDA and vllm (pip install -e '.[gpu]'); "
                           "use backend='transformers' on this machine")
    return name


def open_backend(name: str, base_model: str, adapters: dict, preset):
    """Open a backend by name for the given {checkpoint name: adapter path or None} mapping."""
    started = time.time()
    backend = BACKENDS[resolve_backend(name)](base_model, adapters, preset)
    backend.load_s = time.time() - started
    return backend
