"""Peak GPU memory of a recipe's training run and of an evaluation preset, estimated from the model's config.

Training, per GPU: bf16 base weights; LoRA in fp32 with its gradients and AdamW's two states; the activation peak
of one micro-batch; vLLM's colocated share (vllm_gpu_memory_utilization x GPU memory). With gradient checkpointing
every layer keeps its input and the backward recomputes one layer at a time (its saved tensors plus the gradients
in flight). TRL 1.16 never materialises the [tokens x vocabulary] logits: its fused LM head (trl/kernels/
chunked_logprob.py) projects 4,096 tokens x 32,768 vocabulary columns per tile, so the head costs one tile and the
hidden states' gradients; `notes["full_logits_gib"]` is what fp32 logits would have taken. A layer's bytes per token
are those autograd saves in a Qwen2 layer with PEFT LoRA under bf16 autocast, counted on a CPU (tests/test_memory.py).
Evaluation: weights plus the KV cache of one max_model_len sequence. Used in: config.describe, benchmarks/gpu_day.py.
"""

import dataclasses
import math
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary

from tina_utils import devices
from tina_utils.train.recipe_map import batch_layout
from tina_utils.worlds.r1_mini import REAL_CONFIG, REAL_SIZES

GIB = 2 ** 30
L40S_GIB = 48e9 / GIB  # the paper's NVIDIA L40S (48 GB)
HEAD_TILE = (4096, 32768)  # TRL 1.16's fused LM head: tokens x vocabulary columns per tile (compute dtype)
TRANSIENT = ("activations", "generation_kv")  # the backward and generation never overlap


@dataclasses.dataclass(frozen=True)
class Estimate:
    """Memory components in GiB, their peak `total` in GiB, and the quantities they came from (`notes`)."""

    name: str
    components: dict
    total: float
    notes: dict


def sizes(config=None) -> dict:
    """The sizes of a Qwen2 config (object or dict) the estimate needs; None: the real 1.5B model."""
    config = {**REAL_CONFIG, **REAL_SIZES} if config is None else config
    get = config.get if isinstance(config, dict) else lambda key, default=None: getattr(config, key, default)
    hidden, heads = get("hidden_size"), get("num_attention_heads")
    head_dim = get("head_dim") or hidden // heads
    return {"H": hidden, "I": get("intermediate_size"), "L": get("num_hidden_layers"), "heads": heads,
            "q_dim": heads * head_dim, "kv_dim": get("num_key_value_heads", heads) * head_dim,
            "vocab": get("vocab_size"), "tied": bool(get("tie_word_embeddings", False)),
            "max_len": get("max_position_embeddings")}


def lora_shapes(config=None) -> dict:
    """(in, out) features of every projection LoRA can target in one layer."""
    s = sizes(config)
    H, I, q, kv = s["H"], s["I"], s["q_dim"], s["kv_dim"]
    return {"q_proj": (H, q), "k_proj": (H, kv), "v_proj": (H, kv), "o_proj": (q, H), "gate_proj": (H, I),
            "up_proj": (H, I), "down_proj": (I, H)}


def model_parameters(config=None) -> int:
    """Parameters of a Qwen2 causal LM: embeddings, head (unless tied), layers with q/k/v biases and two norms."""
    s, shapes = sizes(config), lora_shapes(config)
    layer = sum(i * o for i, o in shapes.values()) + s["q_dim"] + 2 * s["kv_dim"] + 2 * s["H"]
    return s["vocab"] * s["H"] * (1 if s["tied"] else 2) + s["L"] * layer + s["H"]


def lora_parameters(config=None, r: int = 32, targets=tuple(lora_shapes())) -> int:
    """LoRA parameters: r x (in + out) for every targeted projection of every layer."""
    shapes = lora_shapes(config)
    if set(targets) - set(shapes):
        raise ValueError(f"unknown LoRA target(s) {sorted(set(targets) - set(shapes))}; valid: {', '.join(shapes)}")
    return sizes(config)["L"] * sum(r * sum(shapes[t]) for t in targets)


def layer_bytes_per_token(config, r: int, targets, dropout: float, device: str = "cuda") -> int:
    """Bytes autograd saves per token in one decoder layer with LoRA under bf16 autocast (frozen base weights)."""
    s, shapes = sizes(config), lora_shapes(config)
    mask = (4 if device == "cpu" else 1) if dropout > 0 else 0  # dropout mask: fp32 on CPU, bool on CUDA
    base = 8 * s["H"] + 4 * s["q_dim"] + 4 * s["kv_dim"] + 4 * s["heads"] + 6 * s["I"]  # fp32 norm inputs, attn, MLP
    return base + sum((2 + mask) * shapes[t][0] + 2 * r for t in targets)  # LoRA: A's bf16 input + mask, B's input


def train_memory(recipe, config=None, world_size: int = 1, gpu_gib: float | None = None, device: str = "cuda",
                 flash: bool = False) -> Estimate:
    """Peak memory of one training process of `recipe`; gpu_gib: the GPU's memory (default: the paper's L40S)."""
    s, layout = sizes(config), batch_layout(recipe, world_size)
    H, I, L, b = s["H"], s["I"], s["L"], layout["per_device_train_batch_size"]
    length = recipe.max_prompt_length + recipe.max_completion_length
    tokens = b * length
    scored = b * recipe.max_completion_length if device == "cuda" else b * (length - 1)  # CPU scores every position
    per_layer = layer_bytes_per_token(config, recipe.lora_r, recipe.lora_target_modules, recipe.lora_dropout, device)
    working = 12 * I  # gradients in flight through the MLP and its LoRA (fp32 and bf16), measured
    if recipe.gradient_checkpointing:
        kept, recompute = tokens * 2 * H * L, tokens * (per_layer + working)
    else:
        kept, recompute = tokens * per_layer * L, tokens * working
    rows = min(scored, HEAD_TILE[0])
    head = rows * HEAD_TILE[1] * 2 + scored * H * 4 + tokens * H * 2  # the tile, fp32 and bf16 hidden gradients
    if device == "cpu":  # no Triton: ~7 fp32 temporaries of the tile, then fp32 copies of tile and weight chunk
        cols = min(s["vocab"], HEAD_TILE[1])
        head += max(7 * rows * cols * 4, (rows + H) * cols * 4)
    mask = 0 if flash else b * length * length * 3  # bool mask + its bf16 copy in the attention
    activations = kept + mask + tokens * 4 * H + scored * 2 * H + max(recompute, head)  # + final norm, head input
    dtype = 2 if recipe.bf16 else 4
    kv = 0 if recipe.use_vllm else layout["completions_per_step"] // world_size * length * L * 2 * s["kv_dim"] * dtype
    gpu = gpu_gib if gpu_gib is not None else L40S_GIB
    colocated = recipe.use_vllm and recipe.vllm_mode == "colocate"
    n_lora = lora_parameters(config, recipe.lora_r, recipe.lora_target_modules)
    parts = {"weights": model_parameters(config) * dtype / GIB, "lora": n_lora * 4 / GIB,
             "lora_grads": n_lora * 4 / GIB, "adam_states": n_lora * 8 / GIB, "activations": activations / GIB,
             "generation_kv": kv / GIB, "vllm": recipe.vllm_gpu_memory_utilization * gpu if colocated else 0.0}
    total = sum(v for k, v in parts.items() if k not in TRANSIENT) + max(parts[k] for k in TRANSIENT)
    notes = {"per_device_batch": b, "sequence": length, "lora_parameters": n_lora, "gpu_gib": gpu, "device": device,
             "full_logits_gib": b * recipe.max_completion_length * s["vocab"] * 4 / GIB}
    return Estimate(f"train {recipe.name}", parts, total, notes)


def eval_memory(preset, config=None, gpu_gib: float | None = None) -> Estimate:
    """Weights + the KV cache of one max_model_len sequence for an evaluation preset (a Preset)."""
    s = sizes(config)
    dtype = {"bfloat16": 2, "float16": 2, "float32": 4}[preset.dtype]
    max_len = preset.max_model_len or s["max_len"]
    kv, weights = max_len * s["L"] * 2 * s["kv_dim"] * dtype, model_parameters(config) * dtype
    gpu = gpu_gib if gpu_gib is not None else L40S_GIB
    share = preset.gpu_memory_utilization * gpu * GIB
    notes = {"max_model_len": max_len, "gpu_gib": gpu, "vllm_share_gib": share / GIB,
             "full_length_sequences": max(0, math.floor((share - weights) / kv))}
    parts = {"weights": weights / GIB, "kv_cache": kv / GIB}
    return Estimate(f"eval {preset.name}", parts, (weights + kv) / GIB, notes)


def summary(estimate: Estimate) -> str:
    """One paragraph: the total, every component and what it assumed."""
    parts, n = ", ".join(f"{k} {v:.2f}" for k, v in estimate.components.items() if v), estimate.notes
    if estimate.name.startswith("eval"):
        return (f"{estimate.name}: {estimate.total:.2f} GiB ({parts}) for one {n['max_model_len']}-token sequence; "
                f"vLLM reserves {n['vllm_share_gib']:.1f} GiB of a {n['gpu_gib']:.1f} GiB GPU, room for "
                f"{n['full_length_sequences']} sequences at full length.")
    return (f"{estimate.name}: peak {estimate.total:.2f} GiB per GPU ({parts}; GiB), for micro-batches of "
            f"{n['per_device_batch']} x {n['sequence']} tokens and {n['lora_parameters']:,} LoRA parameters on a "
            f"{n['gpu_gib']:.1f} GiB GPU; fp32 logits would add {n['full_logits_gib']:.1f} GiB, which TRL's fused "
            f"LM head avoids. The CUDA context comes on top.")


class PeakTracker(TorchDispatchMode):
    """`with PeakTracker(skip=model.parameters()) as t:` -> t.peak: the most bytes of tensor storage made inside and
    alive at once, on any device (how the CPU checks the estimate; Python dispatch on every op: small shapes only)."""

    def __init__(self, skip=()):
        super().__init__()
        self.seen, self.now, self.peak = WeakIdKeyDictionary(), 0, 0
        for tensor in skip:
            self.seen[tensor.untyped_storage()] = True

    def _free(self, nbytes: int) -> None:
        self.now -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for item in tree_flatten(out)[0]:
            storage = item.untyped_storage() if isinstance(item, torch.Tensor) else None
            if storage is not None and storage not in self.seen:
                self.seen[storage], self.now = True, self.now + storage.nbytes()
                weakref.finalize(storage, self._free, storage.nbytes())
                self.peak = max(self.peak, self.now)
        return out


def describe_lines(recipe) -> list[str]:
    """describe()'s lines for a GPU recipe: the peak, its largest parts, a warning when the GPU is smaller."""
    if recipe.use_cpu:
        return []
    gpu = devices.visible_gpu_gib()
    flash = devices.attention(recipe.attn_implementation) == "flash_attention_2"
    est = train_memory(recipe, gpu_gib=gpu, flash=flash)
    parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(est.components.items(), key=lambda kv: -kv[1])[:3])
    where = "no GPU visible; vLLM share of a 48 GB GPU" if gpu is None else f"on this {gpu:.0f} GiB GPU"
    lines = [f"  peak GPU memory ≈ {est.total:.1f} GiB per GPU for R1-Distill-1.5B ({parts}; {where})"]
    if gpu is not None and est.total > gpu:
        lines.append(f"  warning: the estimate exceeds this GPU's {gpu:.1f} GiB: lower vllm_gpu_memory_utilization "
                     f"or per_device_batch_size, or use a larger GPU")
    return lines
