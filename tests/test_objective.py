"""Objective parity: the loss TRL 1.16 trains on is Tina's TRL 0.15 GRPO loss, recomputed here independently.

One GRPO step of a paper recipe's resolved config runs on the tiny world's model (CPU). Every micro-batch TRL
trains on is captured with the rewards of its generation batch; Tina's loss is recomputed from them in plain
torch (raw-logit log-probs, group-normalised advantages, k3 KL against the adapter-free base, per-sequence token
mean or, for Dr.GRPO, the token mean of one prompt's group) and TRL's loss and LoRA gradients must match it.
Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_objective.py -q
"""

import pytest
import torch
from trl import GRPOTrainer

from tina_utils import train
from tina_utils.train import load_recipe

# Device-bound settings only: the objective keys (loss, beta, temperature, rewards, G, prompts per step) stay the
# recipe's. Dropout off so the recomputation sees the same forward pass as TRL's.
CPU = dict(model="tina-tiny", attn_implementation="sdpa", bf16=False, use_cpu=True, use_vllm=False, pad_token=None,
           chat_template="model", dataset="tiny", dataset_n=64, max_prompt_length=64, max_completion_length=64,
           lora_dropout=0.0, max_steps=1, stop_at_step=1, save_steps=1, log_completions=False)
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


def _relative_gap(ours, theirs):
    """max |a - b| / max |b| over a list of tensors."""
    gap = max((a - b).abs().max().item() for a, b in zip(ours, theirs))
    return gap / max(b.abs().max().item() for b in theirs)


def one_step(name, tmp_path, monkeypatch, **overrides):
    """Train one step of `name` on CPU; per micro-batch: TRL vs Tina loss, gradient gap, advantage gap."""
    recipe = load_recipe(name, **{**CPU, **overrides})
    found, rewards = [], []
    original_loss, original_rewards = GRPOTrainer._compute_loss, GRPOTrainer._calculate_rewards
    original_generate = GRPOTrainer._generate_and_score_completions

    def generate(self, batch):
        with torch.no_grad():  # move the policy off the base model so the KL term and its gradient are non-zero
            for param_name, param in self.model.named_parameters():
                if "lora_B" in param_name and not found and not rewards:
                    param.add_(torch.randn_like(param) * 0.01)
        return original_generate(self, batch)

    def calculate_rewards(self, *args):
        rewards.append(original_rewards(self, *args).detach().clone())
        return rewards[-1]

    def compute_loss(self, model, inputs):
        loss = original_loss(self, model, inputs)
        params = [p for p in model.parameters() if p.requires_grad]
        theirs = torch.autograd.grad(loss, params, retain_graph=True)
        accumulation = self.current_gradient_accumulation_steps
        ours = tina_loss(model, inputs, self.beta, per_sequence=recipe.loss_type == "grpo") / accumulation
        ours_grads = torch.autograd.grad(ours, params)
        rows = slice(len(found) * len(inputs["advantages"]), (len(found) + 1) * len(inputs["advantages"]))
        expected = tina_advantages(rewards[-1], recipe.reward_weights, recipe.num_generations,
                                   recipe.scale_rewards == "group")[rows]
        found.append({"trl": loss.item(), "tina": ours.item(), "grad_gap": _relative_gap(ours_grads, theirs),
                      "advantage_gap": (expected - inputs["advantages"]).abs().max().item(),
                      "advantage_scale": inputs["advantages"].abs().max().item()})
        return loss

    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions", generate)
    monkeypatch.setattr(GRPOTrainer, "_calculate_rewards", calculate_rewards)
    monkeypatch.setattr(GRPOTrainer, "_compute_loss", compute_loss)
    train.train(recipe, tmp_path / "run")
    assert len(found) == recipe.prompts_per_step * recipe.num_generations // train.to_grpo_config(
        recipe, tmp_path / "args", world_size=1).per_device_train_batch_size
    return found


def _assert_parity(found):
    for micro in found:
        assert micro["trl"] == pytest.approx(micro["tina"], rel=TOLERANCE, abs=1e-6)
        assert micro["grad_gap"] < TOLERANCE
        assert micro["advantage_gap"] < 1e-5
    assert any(micro["advantage_scale"] > 0.1 for micro in found), "no learning signal: the test would be vacuous"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["open_rs2", "still", "open_rs3_drgrpo"])
def test_trl_loss_and_gradients_equal_tinas(name, tmp_path, monkeypatch):
    _assert_parity(one_step(name, tmp_path, monkeypatch))


@pytest.mark.slow
@pytest.mark.parametrize("flag", [{"logprob_temperature": "sampling"}, {"kl_bias_correction": True}])
def test_parity_test_catches_trl_1_16_defaults(flag, tmp_path, monkeypatch):
    found = one_step("open_rs2", tmp_path, monkeypatch, **flag)
    assert max(micro["grad_gap"] for micro in found) > 100 * TOLERANCE


@pytest.mark.slow
def test_trls_shuffled_micro_batches_mix_groups(tmp_path, monkeypatch):
    found = one_step("open_rs3_drgrpo", tmp_path, monkeypatch, group_microbatches=False)
    # TRL's own order: a micro-batch is G shuffled rows, not the group whose advantages Tina normalised over
    assert max(micro["advantage_gap"] for micro in found) > 0.1
