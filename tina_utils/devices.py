"""What this machine can run: CUDA, flash-attention, vLLM, bfloat16 and sdpa kernels on the CPU, GPU memory.

Every probe is cheap and side-effect free (no CUDA context, no engine); the CPU sdpa probe runs once per process.
Used in: training (fitting a recipe to the machine, the memory guide), evaluation (backends), Colab's runtime check.
"""

import functools
import importlib.util

GIB = 2**30


def cuda_available() -> bool:
    """True when torch sees a CUDA device."""
    import torch

    return torch.cuda.is_available()


def flash_attention_available() -> bool:
    """True when flash-attn is importable and there is a CUDA device for it."""
    return cuda_available() and importlib.util.find_spec("flash_attn") is not None


def vllm_available() -> bool:
    """True when CUDA and vllm are both importable (vLLM can run)."""
    return cuda_available() and importlib.util.find_spec("vllm") is not None


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


def gpu_info() -> dict | None:
    """Name, memory (GiB) and bf16 support of the first CUDA device, or None without one."""
    if not cuda_available():
        return None
    import torch

    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "memory_gib": round(props.total_memory / GIB, 1),
            "bf16": bool(torch.cuda.is_bf16_supported())}


def visible_gpu_gib() -> float | None:
    """Memory of the first visible CUDA GPU in GiB, or None."""
    if not cuda_available():
        return None
    import torch

    return torch.cuda.get_device_properties(0).total_memory / GIB
