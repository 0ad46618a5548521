"""Objective parity: TRL 1.16 trains on Tina's TRL 0.15 GRPO loss, samples as Tina did, and steps as Tina's Trainer did.

One GRPO step of a paper recipe's resolved config runs on the tiny world's model (CPU). Every micro-batch TRL
trains on is captured with the rewards of its generation batch; Tina's loss is recomputed from them in plain
torch (raw-logit log-probs, group-normalised advantages, k3 KL against the adapter-free base, per-sequence token
mean or, for Dr.GRPO, the token mean of one prompt's group) and TRL's loss and LoRA gradients must match it. The
step itself is checked against hand-computed values too: the sampling settings transformers' generate ran with,
the LoRA gradients accumulated over the step's micro-batches, their norm before clipping, the clipped gradients
and AdamW's first update. The objective's constants are Tina's released values, written here, not read from the
code under test. Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_objective.py -q
"""

import pytest
import torch
from accelerate import Accelerator
from transformers.generation.utils import GenerationMixin
from trl import GRPOTrainer

from tina_utils import train
from tina_utils.train import load_recipe

# Tina's released recipes: KL beta 0.04, 8 prompts per optimizer step, rollouts at vLLM SamplingParams(temperature
# 0.7) (top_p 1, no top-k), lr 1e-6 with AdamW (0.9, 0.999, 1e-8), clipping at 1.0. On one process with a
# per-device batch of G completions the step accumulates 8 micro-batches, one prompt's group each.
BETA, PROMPTS_PER_STEP, ACCUMULATION = 0.04, 8, 8
TEMPERATURE, LR, MAX_GRAD_NORM, ADAM_EPS = 0.7, 1e-6, 1.0, 1e-8
# name: (G, reward weights, std-scaled advantages, loss normalised per sequence) of the released yaml
RELEASED = {"open_rs2": (6, [1.0, 2.0], True, True), "still": (4, [1.0, 2.0], True, True),
            "open_rs3_drgrpo": (6, [1.0, 2.0], False, False)}  # Dr.GRPO as the released yaml meant it
# Device-bound settings only, warm-up off (the first step runs at the full learning rate) and LoRA dropout off
# except in the case that replays its masks.
CPU = dict(model="tina-tiny", attn_implementation="sdpa", bf16=False, use_cpu=True, use_vllm=False, pad_token=None,
           chat_template="model", dataset="tiny", dataset_n=64, max_prompt_length=64, max_completion_length=64,
           lora_dropout=0.0, warmup_ratio=0.0, max_steps=1, stop_at_step=1, save_steps=1, log_completions=False)
TOLERANCE = 1e-4  # float32 on CPU: TRL's chunked LM head vs a plain log_softmax


def tina_advantages(rewards_per_func, weights, group, scale):
    """Tina's advantages: weighted reward sum, minus the group mean, over the group's std + 1e-4 if scaled."""
    rewards = (rewards_per_func * torch.tensor(weights)).sum(1).view(-1, group)
    centred = rewards - rewards.mean(1, keepdim=True)
    return (centred / (rewards.std(1, keepdim=True) + 1e-4) if scale else centred).flatten()


def tina_loss(model, inputs, beta, per_sequence):
    """Tina's TRL 0.15 loss of one micro-batch (num_iterations 1, so the ratio is exp(logp - logp.detach()))."""
    completion = inputs["completion_ids"]
    ids = torch.cat([inputs["prompt_ids"], completion], 1)
    attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], 1)

    def log_probs():
        logits = model(input_ids=ids, attention_mask=attention).logits[:, -completion.size(1) - 1:-1].float()
        return torch.log_softmax(logits, -1).gather(-1, completion.unsqueeze(-1)).squeeze(-1)

    logp = log_probs()
    with torch.no_grad(), model.disable_adapter():
        ref = log_probs()
    kl = torch.exp(ref - logp) - (ref - logp) - 1
    per_token = -torch.exp(logp - logp.detach()) * inputs["advantages"].unsqueeze(1) + beta * kl
    mask = inputs["completion_mask"].float()
    if per_sequence:
        return ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
    return (per_token * mask).sum() / mask.sum().clamp(min=1)


def adam_first_update(grads, lr):
    """AdamW's first step without weight decay: bias correction makes m = g and v = g², so -lr g / (|g| + eps)."""
    return [-lr * g / (g.abs() + ADAM_EPS) for g in grads]


def _rows(ids, mask) -> list[tuple]:
    """The unpadded rows of a left-padded batch."""
    return [tuple(row[keep.bool()].tolist()) for row, keep in zip(ids, mask)]


def _relative_gap(ours, theirs):
    """max |a - b| / max |b| over a list of tensors."""
    gap = max((a - b).abs().max().item() for a, b in zip(ours, theirs))
    return gap / max(b.abs().max().item() for b in theirs)


def replay_lora_dropout(model, state, masks):
    """Hooks on the LoRA dropout layers: mode "record" keeps each layer's mask in `masks`, "replay" applies it."""

    def hook(module, args, output):
        if state["mode"] == "record":
            masks[module] = (output != 0) | (args[0] == 0)
        elif state["mode"] == "replay":
            return args[0] * masks[module] / (1 - module.p)

    return [module.register_forward_hook(hook) for name, module in model.named_modules()
            if "lora_dropout" in name and isinstance(module, torch.nn.Dropout)]


def one_step(name, tmp_path, monkeypatch, **overrides):
    """Train one step of `name` on CPU: per micro-batch TRL vs Tina, the rollouts' sampling settings, the step."""
    group, weights, scale, per_sequence = RELEASED[name]
    recipe = load_recipe(name, **{**CPU, **overrides})
    found, rewards, sampled, step, dropout = [], [], [], {}, {"mode": "off"}
    params, micro_grads = [], []
    original_loss, original_rewards = GRPOTrainer._compute_loss, GRPOTrainer._calculate_rewards
    original_generate, original_sample = GRPOTrainer._generate_and_score_completions, GenerationMixin._sample
    original_clip = Accelerator.clip_grad_norm_

    def generate(self, batch):
        with torch.no_grad():  # move the policy off the base model so the KL term and its gradient are non-zero
            for param_name, param in self.model.named_parameters():
                if "lora_B" in param_name and not found and not rewards:
                    param.add_(torch.randn_like(param) * 0.01)
        return original_generate(self, batch)

    def sample(self, input_ids, logits_processor, stopping_criteria, generation_config, **kwargs):
        sampled.append({"prompts": _rows(input_ids, kwargs["attention_mask"]),
                        "processors": [(type(p).__name__, getattr(p, "temperature", None)) for p in logits_processor],
                        "do_sample": generation_config.do_sample, "top_p": generation_config.top_p,
                        "top_k": generation_config.top_k, "max_new_tokens": generation_config.max_new_tokens})
        return original_sample(self, input_ids, logits_processor, stopping_criteria, generation_config, **kwargs)

    def calculate_rewards(self, *args):
        rewards.append(original_rewards(self, *args).detach().clone())
        return rewards[-1]

    def compute_loss(self, model, inputs):
        if not params:
            params.extend(p for p in model.parameters() if p.requires_grad)
            step["hooks"] = replay_lora_dropout(model, dropout, step.setdefault("masks", {}))
        dropout["mode"] = "record"
        loss = original_loss(self, model, inputs)
        dropout["mode"] = "off"  # TRL's backward recomputes checkpointed layers with the same RNG state
        theirs = torch.autograd.grad(loss, params, retain_graph=True)
        dropout["mode"] = "replay"
        ours = tina_loss(model, inputs, BETA, per_sequence)
        ours_grads = torch.autograd.grad(ours, params)
        dropout["mode"] = "off"
        micro_grads.append(ours_grads)
        rows = slice(len(found) * len(inputs["advantages"]), (len(found) + 1) * len(inputs["advantages"]))
        expected = tina_advantages(rewards[-1], weights, group, scale)[rows]
        found.append({"prompts": _rows(inputs["prompt_ids"], inputs["prompt_mask"]),
                      "trl": loss.item(), "tina": ours.item() / ACCUMULATION,
                      "grad_gap": _relative_gap([g / ACCUMULATION for g in ours_grads], theirs),
                      "advantage_gap": (expected - inputs["advantages"]).abs().max().item(),
                      "advantage_scale": inputs["advantages"].abs().max().item()})
        return loss

    def clip(self, parameters, max_norm, norm_type=2):
        step.setdefault("accumulated", [p.grad.clone() for p in params])
        step.setdefault("before", [p.detach().clone() for p in params])
        norm = original_clip(self, parameters, max_norm, norm_type)
        step.setdefault("norm", float(norm))
        step.setdefault("clipped", [p.grad.clone() for p in params])
        return norm

    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions", generate)
    monkeypatch.setattr(GenerationMixin, "_sample", sample)
    monkeypatch.setattr(GRPOTrainer, "_calculate_rewards", calculate_rewards)
    monkeypatch.setattr(GRPOTrainer, "_compute_loss", compute_loss)
    monkeypatch.setattr(Accelerator, "clip_grad_norm_", clip)
    train.train(recipe, tmp_path / "run")
    for hook in step["hooks"]:
        hook.remove()
    kept = [mask.float().mean().item() for mask in step["masks"].values()]
    step["dropped"] = 1 - sum(kept) / len(kept) if kept else 0.0  # of the last micro-batch's loss forward pass
    assert len(found) == ACCUMULATION and len(rewards) == 1 and len(rewards[0]) == PROMPTS_PER_STEP * group
    step["expected"] = [sum(grads) / ACCUMULATION for grads in zip(*micro_grads)]  # Tina: loss / accumulation
    step["after"] = [p.detach().clone() for p in params]
    return found, sampled, step


def _assert_parity(found):
    for micro in found:
        assert micro["trl"] == pytest.approx(micro["tina"], rel=TOLERANCE, abs=1e-6)
        assert micro["grad_gap"] < TOLERANCE
        assert micro["advantage_gap"] < 1e-5
    assert any(micro["advantage_scale"] > 0.1 for micro in found), "no learning signal: the test would be vacuous"


def _assert_sampled_as_tina(sampled, found):
    """Rollouts sampled from the prompt the loss scores, at T 0.7, no top-p/top-k cut, up to the completion budget."""
    assert sorted(row for call in sampled for row in call["prompts"]) == sorted(
        row for micro in found for row in micro["prompts"])
    for call in sampled:
        assert call["do_sample"] and call["max_new_tokens"] == CPU["max_completion_length"]
        assert call["processors"] == [("TemperatureLogitsWarper", TEMPERATURE)]
        assert call["top_p"] == 1.0 and call["top_k"] in (0, None)


def _assert_step_as_tinas(step):
    """The accumulated gradient is the mean of the micro-batches' Tina gradients; clipping and AdamW on top of it."""
    expected = step["expected"]
    assert _relative_gap(step["accumulated"], expected) < TOLERANCE
    norm = torch.cat([g.flatten() for g in expected]).norm().item()
    assert step["norm"] == pytest.approx(norm, rel=TOLERANCE)
    coefficient = min(1.0, MAX_GRAD_NORM / (norm + 1e-6))  # torch's clip_grad_norm_
    assert _relative_gap(step["clipped"], [g * coefficient for g in expected]) < TOLERANCE
    moved = [after - before for after, before in zip(step["after"], step["before"])]
    update = adam_first_update([g * coefficient for g in expected], LR)
    assert max((m - u).abs().max().item() for m, u in zip(moved, update)) < 0.05 * LR  # float32 rounding of weights


@pytest.mark.slow
@pytest.mark.parametrize("name,overrides", [
    ("open_rs2", {"lora_dropout": 0.05}),  # Tina's dropout on: TRL's masks are replayed in the recomputation
    ("still", {}), ("open_rs3_drgrpo", {})])
def test_trl_step_equals_tinas(name, overrides, tmp_path, monkeypatch):
    found, sampled, step = one_step(name, tmp_path, monkeypatch, **overrides)
    assert len(step["hooks"]) == (4 * 7 if overrides else 0)  # LoRA dropout layers: 4 layers x 7 projections
    assert step["dropped"] == pytest.approx(overrides.get("lora_dropout", 0.0), abs=0.01)  # Tina's loss: dropout on
    _assert_parity(found)
    _assert_sampled_as_tina(sampled, found)
    _assert_step_as_tinas(step)


@pytest.mark.slow
@pytest.mark.parametrize("flag", [{"logprob_temperature": "sampling"}, {"kl_bias_correction": True}])
def test_parity_test_catches_trl_1_16_defaults(flag, tmp_path, monkeypatch):
    found, _, _ = one_step("open_rs2", tmp_path, monkeypatch, **flag)
    assert max(micro["grad_gap"] for micro in found) > 100 * TOLERANCE


@pytest.mark.slow
def test_trls_shuffled_micro_batches_mix_groups(tmp_path, monkeypatch):
    found, _, _ = one_step("open_rs3_drgrpo", tmp_path, monkeypatch, group_microbatches=False)
    # TRL's own order: a micro-batch is G shuffled rows, not the group whose advantages Tina normalised over
    assert max(micro["advantage_gap"] for micro in found) > 0.1
