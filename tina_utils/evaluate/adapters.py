"""Checks on PEFT LoRA checkpoints before evaluation: complete, trained on this base model, shapes that fit, and
the max_lora_rank vLLM needs for them. Used in: core.py and backends.py.
"""

import json
from pathlib import Path

VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts


def adapter_config(path) -> dict:
    """The adapter_config.json of a PEFT checkpoint, with clear errors for a missing or incomplete one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint path {path} does not exist; pass an existing checkpoint-N directory")
    config_file = path / "adapter_config.json"
    if not config_file.exists():
        raise FileNotFoundError(f"{path} is not a PEFT adapter: no adapter_config.json in it (incomplete checkpoint?)")
    if not any(path.glob("adapter_model.*")):
        raise FileNotFoundError(f"{path} has no adapter_model.safetensors (checkpoint still being written?)")
    return json.loads(config_file.read_text())


def choose_max_lora_rank(ranks, requested: int | None = None) -> int:
    """Smallest vLLM-accepted max_lora_rank >= every adapter rank (or check an explicitly `requested` one)."""
    top = max(ranks, default=0)
    if requested is not None:
        if requested not in VLLM_LORA_RANKS:
            raise ValueError(f"max_lora_rank={requested} is not accepted by vLLM; valid values: {VLLM_LORA_RANKS}")
        if top > requested:
            fit = choose_max_lora_rank(ranks)
            raise ValueError(f"an adapter has LoRA rank {top}, above max_lora_rank={requested}; "
                             f"set max_lora_rank={fit} (or leave it None to choose automatically)")
        return requested
    for rank in VLLM_LORA_RANKS:
        if rank >= top:
            return rank
    raise ValueError(f"an adapter has LoRA rank {top}, above vLLM's largest max_lora_rank {VLLM_LORA_RANKS[-1]}; "
                     "evaluate it with backend='transformers' or 'merged'")


def _same_model(name_a: str, name_b: str) -> bool:
    """True when two model ids/paths name the same model (local copies: the hub name appears in the path)."""
    a, b = str(name_a).rstrip("/"), str(name_b).rstrip("/")
    if a == b or (Path(a).exists() and Path(b).exists() and Path(a).resolve() == Path(b).resolve()):
        return True
    parts_a, parts_b = {p.lower() for p in Path(a).parts}, {p.lower() for p in Path(b).parts}
    return Path(a).name.lower() in parts_b or Path(b).name.lower() in parts_a


def _expected_shapes(config) -> dict[str, tuple[int, int]]:
    """(in, out) features of each LoRA-targetable linear layer of a Llama/Qwen2-style config."""
    hidden, heads = config.hidden_size, config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    kv = getattr(config, "num_key_value_heads", heads) * head_dim
    inter = config.intermediate_size
    return {"q_proj": (hidden, heads * head_dim), "k_proj": (hidden, kv), "v_proj": (hidden, kv),
            "o_proj": (heads * head_dim, hidden), "gate_proj": (hidden, inter), "up_proj": (hidden, inter),
            "down_proj": (inter, hidden)}


def shape_mismatches(adapter_path, base_model) -> list[str]:
    """LoRA weights whose shapes do not fit the base model's layers (empty when they fit or can't be checked)."""
    from safetensors import safe_open
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(base_model)
    except (OSError, ValueError):
        return []  # base config not available offline: vLLM/PEFT will still refuse a bad shape at load
    expected, bad = _expected_shapes(config), []
    with safe_open(str(Path(adapter_path) / "adapter_model.safetensors"), "pt") as weights:
        for key in weights.keys():
            module = next((m for m in expected if f".{m}." in key), None)
            if module is None or "lora_" not in key:
                continue
            shape = tuple(weights.get_slice(key).get_shape())
            fan_in, fan_out = expected[module]
            ok = shape[1] == fan_in if ".lora_A." in key else shape[0] == fan_out
            if not ok:
                bad.append(f"{key} {shape} (base {module} is {fan_in}->{fan_out})")
    return bad


def check_adapter(path, base_model: str, check_base: bool = True) -> dict:
    """Validate one checkpoint against the base model; return its adapter config."""
    config = adapter_config(path)
    trained_on = config.get("base_model_name_or_path") or ""
    if check_base and trained_on and not _same_model(trained_on, base_model):
        raise ValueError(f"adapter {path} was trained on base model {trained_on!r} (adapter_config.json "
                         f"base_model_name_or_path), not on {base_model!r}; evaluate it with that base model, "
                         "or pass check_base=False if it is a local copy of the same model")
    bad = shape_mismatches(path, base_model)
    if bad:
        raise ValueError(f"adapter {path} does not fit base model {base_model!r} (trained on {trained_on!r}): "
                         f"{len(bad)} LoRA weights have wrong shapes, e.g. {bad[0]}")
    return config
