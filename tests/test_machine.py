"""The runner fits device-bound recipe settings to the machine, one printed line per change, and nothing else.

Run: pytest tests/test_machine.py
"""

import pytest

from tina_utils import devices
from tina_utils.train import load_recipe, machine, to_dict


def fit(monkeypatch, recipe, cuda: bool, flash: bool = False, cpu_bf16: bool = True, cpu_sdpa_bf16: bool = True):
    """adapt_to_machine on a pretend machine; returns (recipe, printed lines)."""
    monkeypatch.setattr(devices, "cuda_available", lambda: cuda)
    monkeypatch.setattr(devices, "flash_attention_available", lambda: cuda and flash)
    monkeypatch.setattr(devices, "cpu_bf16_available", lambda: cpu_bf16)
    monkeypatch.setattr(devices, "cpu_sdpa_bf16_runs", lambda: cpu_sdpa_bf16)
    lines = []
    return machine.adapt_to_machine(recipe, say=lines.append), lines


def changed(before, after) -> dict:
    return {k: v for k, v in to_dict(after).items() if to_dict(before)[k] != v}


def test_a_paper_recipe_on_a_cpu_changes_only_device_settings_with_a_line_each(monkeypatch):
    recipe = load_recipe("open_rs2", use_vllm=False)
    fitted, lines = fit(monkeypatch, recipe, cuda=False)
    assert changed(recipe, fitted) == {"use_cpu": True, "attn_implementation": "sdpa"}  # bf16 kept: CPU has it
    assert lines == ["open_rs2: use_cpu False -> True (no CUDA GPU, training on the CPU)",
                     "open_rs2: attn_implementation 'auto' -> 'sdpa' (no CUDA GPU, PyTorch sdpa instead of "
                     "flash-attention 2)"]
    fitted, lines = fit(monkeypatch, recipe, cuda=False, cpu_bf16=False)
    assert changed(recipe, fitted) == {"use_cpu": True, "attn_implementation": "sdpa", "bf16": False}
    assert "open_rs2: bf16 True -> False (this CPU has no bfloat16 kernels, training in float32)" in lines


def test_where_the_cpu_bf16_sdpa_kernel_fails_bf16_models_use_eager_attention_with_a_line(monkeypatch):
    recipe = load_recipe("open_rs2", use_vllm=False)
    fitted, lines = fit(monkeypatch, recipe, cuda=False, cpu_sdpa_bf16=False)
    assert changed(recipe, fitted) == {"use_cpu": True, "attn_implementation": "eager"}
    assert ("open_rs2: attn_implementation 'auto' -> 'eager' (PyTorch's CPU sdpa kernel fails in bfloat16 on this "
            "machine, eager attention instead)") in lines
    fitted, _ = fit(monkeypatch, recipe, cuda=False, cpu_bf16=False, cpu_sdpa_bf16=False)
    assert fitted.attn_implementation == "sdpa"  # float32 sdpa runs
    assert devices.attention("sdpa", bf16=True) == "eager" and devices.attention("sdpa", bf16=False) == "sdpa"


def test_the_sdpa_probe_answers_what_a_bf16_forward_does():
    import torch

    query = torch.zeros(1, 2, 80, 16, dtype=torch.bfloat16)
    try:
        torch.nn.functional.scaled_dot_product_attention(query, query, query, is_causal=True)
        runs = True
    except RuntimeError:
        runs = False
    assert devices.cpu_sdpa_bf16_runs() is runs


def test_on_a_gpu_auto_attention_is_flash_when_installed_and_sdpa_with_a_line_when_not(monkeypatch):
    recipe = load_recipe("open_rs2")
    fitted, lines = fit(monkeypatch, recipe, cuda=True, flash=True)
    assert changed(recipe, fitted) == {"attn_implementation": "flash_attention_2"} and lines == []
    fitted, lines = fit(monkeypatch, recipe, cuda=True, flash=False)
    assert fitted.attn_implementation == "sdpa" and lines == [
        "open_rs2: attn_implementation 'auto' -> 'sdpa' (flash-attn is not installed, PyTorch sdpa instead of "
        "flash-attention 2)"]


def test_vllm_without_cuda_is_an_error_not_a_silent_swap(monkeypatch):
    with pytest.raises(ValueError, match="needs a CUDA GPU.*--use_vllm false"):
        fit(monkeypatch, load_recipe("open_rs2"), cuda=False)


def test_the_tiny_recipe_is_already_fitted_to_a_cpu(monkeypatch):
    recipe = load_recipe("tiny")
    fitted, lines = fit(monkeypatch, recipe, cuda=False)
    assert fitted == recipe and lines == []


def test_notebook_overrides_add_model_data_and_transformers_generation_on_a_cpu(monkeypatch):
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    lines = []
    overrides = machine.notebook_overrides("paper", {"max_steps": 3}, model="r1-mini", dataset_path="f.jsonl",
                                           say=lines.append)
    assert overrides == {"model": "r1-mini", "dataset_path": "f.jsonl", "max_steps": 3, "use_vllm": False}
    assert len(lines) == 1 and "transformers instead of vLLM" in lines[0]
    assert machine.notebook_overrides("tiny", {}, say=lines.append) == {} and len(lines) == 1
    assert machine.notebook_overrides("paper", {"use_vllm": True}, say=lines.append) == {"use_vllm": True}
