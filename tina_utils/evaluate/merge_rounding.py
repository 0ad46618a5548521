"""How much of a LoRA update survives Tina's evaluation path: merging the adapter into bf16 weights and reloading.

Tina merged every checkpoint into the bf16 base before evaluating it. With lr 1e-6 the LoRA deltas are small next
to the weights, and bf16 keeps 8 significant bits, so the merge can round part of the update away. `measure`
compares the bf16-merged model with the unmerged one (base + adapter in float32):
- delta_kept: ||W_merged_bf16 - W_bf16|| / ||dW|| over every adapted weight (1: the update is all there, 0: erased);
- delta_cosine: the direction of what was kept vs dW; unchanged_share: weights the merge left bit-identical;
- logit_effect_kept: ||logits(merged bf16) - logits(base)|| / ||logits(unmerged) - logits(base)|| on next tokens.
Used in: benchmarks/bench_bf16_merge.py (its numbers are in docs/fidelity.md).
"""

import torch


def lora_pairs(model):
    """(base weight, dW) of every LoRA layer of a PEFT model, in float32."""
    for module in model.modules():
        if hasattr(module, "get_delta_weight") and "default" in getattr(module, "lora_A", {}):
            yield module.base_layer.weight.data.float(), module.get_delta_weight("default").float()


def delta_stats(pairs) -> dict:
    """How much of each dW a bf16 merge keeps: delta_kept, delta_cosine, unchanged_share, delta_rms, weight_rms."""
    kept_sq = delta_sq = dot = weight_sq = 0.0
    unchanged = total = 0
    for weight, delta in pairs:
        before = weight.to(torch.bfloat16)
        after = (weight + delta).to(torch.bfloat16)  # merged at full precision, stored in bf16: one rounding
        kept = after.float() - before.float()
        kept_sq += float((kept ** 2).sum())
        delta_sq += float((delta ** 2).sum())
        dot += float((kept * delta).sum())
        weight_sq += float((weight ** 2).sum())
        unchanged += int((after == before).sum())
        total += weight.numel()
    if delta_sq == 0:
        raise ValueError("the adapter's update is zero (lora_B all zero): nothing to measure")
    return {"delta_kept": (kept_sq / delta_sq) ** 0.5, "delta_cosine": dot / ((kept_sq * delta_sq) ** 0.5 or 1.0),
            "unchanged_share": unchanged / total, "delta_rms": (delta_sq / total) ** 0.5,
            "weight_rms": (weight_sq / total) ** 0.5}


def tina_lora(model, b_magnitude: float, seed: int = 0):
    """Tina's LoRA (r 32, alpha 128, seven projections) on `model`, PEFT's A init and B = +-b_magnitude entries.

    Adam moves every B entry by about lr per step: lr x steps if the gradient keeps its sign, lr x sqrt(steps)
    if it flips at random; those two magnitudes bracket a real checkpoint's B.
    """
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    config = LoraConfig(r=32, lora_alpha=128, lora_dropout=0.0, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, config)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            param.data = b_magnitude * torch.randint(0, 2, param.shape).float().mul(2).sub(1)
    return model


def real_layer_stats(b_magnitude: float, seed: int = 0, weight_std: float = 0.02) -> dict:
    """delta_stats on one decoder layer of the real 1.5B shapes (hidden 1536, MLP 8960, 12/2 heads of 128),
    bf16 weights drawn at the real config's initializer_range, A as PEFT draws it, B = +-b_magnitude."""
    import math

    generator = torch.Generator().manual_seed(seed)
    shapes = [(1536, 1536), (256, 1536), (256, 1536), (1536, 1536), (8960, 1536), (8960, 1536), (1536, 8960)]

    def pairs():
        for out_features, in_features in shapes:
            weight = torch.randn(out_features, in_features, generator=generator) * weight_std
            weight = weight.to(torch.bfloat16).float()  # the real base weights are stored in bf16
            bound = 1 / math.sqrt(in_features)  # kaiming-uniform(a=sqrt(5)), PEFT's default for lora_A
            lora_a = (torch.rand(32, in_features, generator=generator) * 2 - 1) * bound
            lora_b = b_magnitude * (torch.randint(0, 2, (out_features, 32), generator=generator).float() * 2 - 1)
            yield weight, (128 / 32) * lora_b @ lora_a

    return delta_stats(pairs())


def _last_logits(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return model(**batch).logits[:, -1].float()


def measure(base_path: str, adapter_path=None, prompts: list[str] = (), b_magnitude: float | None = None) -> dict:
    """The bf16-merge numbers of a saved adapter, or of `tina_lora(b_magnitude)` on the base model."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    tokenizer.padding_side = "left"
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    batch = tokenizer(list(prompts), return_tensors="pt", padding=True)
    # Base weights rounded to bf16 (what Tina loaded), computed in float32 so only the weight rounding differs.
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.bfloat16).float().eval()
    if adapter_path is not None:
        model = PeftModel.from_pretrained(base, str(adapter_path)).eval()
    else:
        model = tina_lora(base, b_magnitude).eval()
    stats = delta_stats(lora_pairs(model))
    unmerged = _last_logits(model, batch)
    with model.disable_adapter():
        base_logits = _last_logits(model, batch)
    merged = model.merge_and_unload().to(torch.bfloat16).float()  # merged in float32, stored in bf16: one rounding
    merged_logits = _last_logits(merged, batch)
    effect = float((unmerged - base_logits).norm())
    return {**stats, "logit_effect": effect / max(float(base_logits.norm()), 1e-12),
            "logit_effect_kept": float((merged_logits - base_logits).norm()) / max(effect, 1e-12),
            "logit_error": float((merged_logits - unmerged).norm()) / max(effect, 1e-12)}
