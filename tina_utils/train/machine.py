"""Fit a recipe to the machine it runs on: the device-bound settings a CPU (or a GPU without flash-attn) cannot use.

Only these change, each with one printed line: `use_cpu` on a machine without CUDA, `bf16` when the CPU has no
bfloat16 kernels, and flash-attention when flash-attn or CUDA is missing (sdpa instead). vLLM is not swapped
silently: a recipe that generates with vLLM on a machine without CUDA stops with the override to use instead.
Used in: runner.train (every CLI and notebook run).
"""

import dataclasses
import os

from tina_utils import devices
from tina_utils.train.recipe_schema import Recipe


def _attention_change(kernel: str) -> str:
    """Why the attention kernel was changed, for adapt_to_machine's line."""
    if kernel == "eager":
        return "PyTorch's CPU sdpa kernel fails in bfloat16 on this machine, eager attention instead"
    where = "no CUDA GPU" if not devices.cuda_available() else "flash-attn is not installed"
    return f"{where}, PyTorch sdpa instead of flash-attention 2"


def use_cpu_devices() -> None:
    """Name the plain CPU as this process's device for accelerate and DeepSpeed (before the trainer is built)."""
    # accelerate would name every process's device "cpu:0", which torch.load cannot map a resumed optimizer to
    os.environ.setdefault("ACCELERATE_TORCH_DEVICE", "cpu")
    os.environ.setdefault("DS_ACCELERATOR", "cpu")  # DeepSpeed, where installed, would warn that it found no GPU


def adapt_to_machine(recipe: Recipe, say=print) -> Recipe:
    """The recipe with the device-bound settings this machine cannot use changed, one `say` line per change."""
    changes = {}
    on_cpu = recipe.use_cpu or not devices.cuda_available()
    if on_cpu and recipe.use_vllm:
        raise ValueError(f"recipe {recipe.name!r} generates with vLLM, which needs a CUDA GPU, and this machine "
                         f"has none: add `--use_vllm false` to generate with transformers (and `--model r1-mini` "
                         f"for a CPU-sized model), or use the CPU recipe `tiny`")
    if on_cpu and not recipe.use_cpu:
        changes["use_cpu"] = (True, "no CUDA GPU, training on the CPU")
    if on_cpu and recipe.bf16 and not devices.cpu_bf16_available():
        changes["bf16"] = (False, "this CPU has no bfloat16 kernels, training in float32")
    bf16 = changes.get("bf16", (recipe.bf16,))[0]
    kernel = devices.attention(recipe.attn_implementation, bf16)
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
    if profile == "paper" and not devices.cuda_available() and "use_vllm" not in overrides:
        say("no CUDA GPU: generating rollouts with transformers instead of vLLM (use_vllm false)")
        overrides["use_vllm"] = False
    return overrides
