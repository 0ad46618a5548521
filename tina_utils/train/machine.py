"""Fit a recipe to the machine it runs on: the device-bound settings a CPU (or a GPU without flash-attn) cannot use.

Only these change, each with one printed line: `use_cpu` on a machine without CUDA, `bf16` when the CPU has no
bfloat16 kernels, and flash-attention when flash-attn or CUDA is missing (sdpa instead). vLLM is not swapped
silently: a recipe that generates with vLLM on a machine without CUDA stops with the override to use instead.
Used in: runner.train (every CLI and notebook run).
"""

import dataclasses
import functools
import importlib.util
import os

from tina_utils.train.recipe_schema import Recipe


def cuda_available() -> bool:
    """True when torch sees a CUDA device."""
    import torch

    return torch.cuda.is_available()


def flash_attention_available() -> bool:
    """True when flash-attn is importable and there is a CUDA device for it."""
    return cuda_available() and importlib.util.find_spec("flash_attn") is not None


def cpu_bf16_available() -> bool:
    """True when this CPU build of torch runs bfloat16 (mixed precision) kernels."""
    from transformers.utils import is_torch_bf16_available_on_device

    return bool(is_torch_bf16_available_on_device("cpu"))


@functools.cache
def cpu_sdpa_bf16_runs() -> bool:
    """True when PyTorch's CPU sdpa kernel runs in bfloat16 on this machine (probed once, 64 tokens)."""
    import torch

    probe = torch.zeros(1, 1, 64, 16, dtype=torch.bfloat16)
    try:
        torch.nn.functional.scaled_dot_product_attention(probe, probe, probe, is_causal=True)
    except RuntimeError:  # torch 2.13 under ATEN_CPU_CAPABILITY=default on an AMX CPU: "pack_vnni2 is only ..."
        return False
    return True


def attention(choice: str, bf16: bool = True) -> str:
    """The attention kernel to load: flash-attention 2 where it can run ('auto' or asked for), else sdpa; eager
    where the CPU's bf16 sdpa kernel fails."""
    if choice in ("auto", "flash_attention_2"):
        choice = "flash_attention_2" if flash_attention_available() else "sdpa"
    if choice == "sdpa" and bf16 and not cuda_available() and not cpu_sdpa_bf16_runs():
        return "eager"
    return choice


def _attention_change(kernel: str) -> str:
    """Why the attention kernel was changed, for adapt_to_machine's line."""
    if kernel == "eager":
        return "PyTorch's CPU sdpa kernel fails in bfloat16 on this machine, eager attention instead"
    where = "no CUDA GPU" if not cuda_available() else "flash-attn is not installed"
    return f"{where}, PyTorch sdpa instead of flash-attention 2"


def use_cpu_devices() -> None:
    """Name the plain CPU as this process's device for accelerate and DeepSpeed (before the trainer is built)."""
    # accelerate would name every process's device "cpu:0", which torch.load cannot map a resumed optimizer to
    os.environ.setdefault("ACCELERATE_TORCH_DEVICE", "cpu")
    os.environ.setdefault("DS_ACCELERATOR", "cpu")  # DeepSpeed, where installed, would warn that it found no GPU


def adapt_to_machine(recipe: Recipe, say=print) -> Recipe:
    """The recipe with the device-bound settings this machine cannot use changed, one `say` line per change."""
    changes = {}
    on_cpu = recipe.use_cpu or not cuda_available()
    if on_cpu and recipe.use_vllm:
        raise ValueError(f"recipe {recipe.name!r} generates with vLLM, which needs a CUDA GPU, and this machine "
                         f"has none: add `--use_vllm false` to generate with transformers (and `--model r1-mini` "
                         f"for a CPU-sized model), or use the CPU recipe `tiny`")
    if on_cpu and not recipe.use_cpu:
        changes["use_cpu"] = (True, "no CUDA GPU, training on the CPU")
    if on_cpu and recipe.bf16 and not cpu_bf16_available():
        changes["bf16"] = (False, "this CPU has no bfloat16 kernels, training in float32")
    bf16 = changes.get("bf16", (recipe.bf16,))[0]
    kernel = attention(recipe.attn_implementation, bf16)
    if kernel != recipe.attn_implementation:
        changes["attn_implementation"] = (kernel, _attention_change(kernel) if kernel in ("sdpa", "eager") else None)
    for key, (value, why) in changes.items():
        if why:
            say(f"{recipe.name}: {key} {getattr(recipe, key)!r} -> {value!r} ({why})")
    return dataclasses.replace(recipe, **{key: value for key, (value, _) in changes.items()})


def notebook_overrides(profile: str, overrides: dict, model=None, dataset_path=None, say=print) -> dict:
    """Notebook 02's recipe overrides: its model/data parameters, and on the paper profile without CUDA, generation
    with transformers instead of vLLM (what the GPU run does with vLLM, the CPU run does with transformers)."""
    extra = {key: value for key, value in (("model", model), ("dataset_path", dataset_path)) if value is not None}
    overrides = {**extra, **overrides}
    if profile == "paper" and not cuda_available() and "use_vllm" not in overrides:
        say("no CUDA GPU: generating rollouts with transformers instead of vLLM (use_vllm false)")
        overrides["use_vllm"] = False
    return overrides
