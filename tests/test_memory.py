"""The memory guide: parameter counts at the real shapes, estimates that move the right way, the estimate against
bytes measured on a CPU training step, and describe() carrying it.

Run: pytest tests/test_memory.py   (about 20 s on 2 cores)
"""

import dataclasses

import pytest
import torch

from tina_utils import devices, worlds
from tina_utils.evaluate import get_preset
from tina_utils.train import describe, load_recipe, memory, to_lora_config
from tina_utils.worlds import r1_mini

GIB = 2 ** 30
REAL = {**r1_mini.REAL_CONFIG, **r1_mini.REAL_SIZES}
LAYER_BOUND = {**r1_mini.REAL_CONFIG, "hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 2,
               "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 1024}


@pytest.fixture(scope="module")
def open_rs2():
    return load_recipe("open_rs2")


def test_real_sizes_are_the_released_config():
    from transformers import Qwen2Config

    config = Qwen2Config(**REAL)
    assert (config.hidden_size, config.intermediate_size, config.num_hidden_layers) == (1536, 8960, 28)
    assert (config.num_attention_heads, config.num_key_value_heads, config.vocab_size) == (12, 2, 151936)
    assert config.hidden_size // config.num_attention_heads == 128 and not config.tie_word_embeddings


def test_parameter_counts_at_the_real_shapes_match_peft_on_a_meta_model(open_rs2):
    from peft import get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    with torch.device("meta"):  # the real shapes without allocating 1.8 B parameters
        model = Qwen2ForCausalLM(Qwen2Config(**REAL))
    assert memory.model_parameters() == model.num_parameters() == 1_777_088_000
    trainable, _ = get_peft_model(model, to_lora_config(open_rs2)).get_nb_trainable_parameters()
    by_hand = 28 * 32 * (2 * (1536 + 1536) + 2 * (1536 + 256) + 3 * (1536 + 8960))  # q,o; k,v; gate,up,down
    assert memory.lora_parameters(None, 32, open_rs2.lora_target_modules) == trainable == by_hand == 36_929_536


def test_lora_count_follows_rank_and_targets():
    assert memory.lora_parameters(None, 16, ["q_proj", "v_proj"]) == 28 * 16 * ((1536 + 1536) + (1536 + 256))
    assert memory.lora_parameters(None, 64) == 2 * memory.lora_parameters(None, 32)
    with pytest.raises(ValueError, match="unknown LoRA target.*'qproj'"):
        memory.lora_parameters(None, 32, ["qproj"])


def test_the_estimate_grows_with_rank_completion_batch_and_gpu(open_rs2):
    def total(**changes):
        return memory.train_memory(dataclasses.replace(open_rs2, **changes)).total

    paper = total()
    assert total(lora_r=16) < paper < total(lora_r=64)
    assert total(max_completion_length=1024) < paper < total(max_completion_length=8192)
    assert total(per_device_batch_size=3) < paper < total(per_device_batch_size=12)
    assert total(gradient_checkpointing=False) > paper + 20  # every layer's tensors kept: tens of GiB more
    bigger = memory.train_memory(open_rs2, gpu_gib=140).total - memory.train_memory(open_rs2, gpu_gib=40).total
    assert bigger == pytest.approx(0.4 * 100)  # only vLLM's colocated share follows the GPU
    transformers_gen = memory.train_memory(dataclasses.replace(open_rs2, use_vllm=False))
    assert transformers_gen.components["vllm"] == 0 and transformers_gen.components["generation_kv"] > 0


def test_open_rs2_components(open_rs2):
    est = memory.train_memory(open_rs2)
    parts = est.components
    assert parts["weights"] == pytest.approx(1_777_088_000 * 2 / GIB)  # 3.31 GiB of bf16
    assert parts["lora"] + parts["lora_grads"] + parts["adam_states"] == pytest.approx(36_929_536 * 16 / GIB)
    assert parts["vllm"] == pytest.approx(0.4 * 48e9 / GIB)
    assert 5 < parts["activations"] < 12 and parts["generation_kv"] == 0
    assert est.total == pytest.approx(sum(parts.values()))
    assert est.notes["full_logits_gib"] == pytest.approx(6 * 3584 * 151936 * 4 / GIB)  # what the fused head avoids
    text = memory.summary(est)
    assert f"peak {est.total:.2f} GiB" in text and "36,929,536 LoRA parameters" in text and "6 x 4096" in text


def test_paper_eval_preset():
    est = memory.eval_memory(get_preset("paper"))
    assert est.components["kv_cache"] == pytest.approx(32768 * 28 * 2 * 256 * 2 / GIB)  # 0.875 GiB per sequence
    assert est.total == pytest.approx(1_777_088_000 * 2 / GIB + 0.875)
    assert est.notes["vllm_share_gib"] == pytest.approx(0.7 * 48e9 / GIB) and est.notes["full_length_sequences"] == 31
    assert "one 32768-token sequence" in memory.summary(est)


def _measure_step(model, recipe):
    """Bytes of parameters, and the peak of one tracked GRPO-shaped micro-step (AdamW states already made)."""
    from peft import get_peft_model
    from trl.trainer.utils import add_fused_lm_head

    add_fused_lm_head(model, outputs=("log_probs", "entropy"))  # as TRL 1.16's GRPOTrainer
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, to_lora_config(recipe))
    model.enable_input_require_grads()
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)

    def step(batch, prompt, length):
        ids = torch.randint(0, 500, (batch, length))
        mask = torch.ones_like(ids)
        mask[0, :3] = 0  # left padding, as GRPO batches have
        labels = ids.masked_fill(mask == 0, -100)
        labels[:, :prompt] = -100
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
        (-out.log_probs.sum() / labels.ne(-100).sum()).backward()
        del out
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(1, 4, 8)  # makes AdamW's states, which every later step keeps
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    states = sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values() if t.dim())
    length = recipe.max_prompt_length + recipe.max_completion_length
    with memory.PeakTracker(skip=[*model.parameters(), *model.buffers()]) as tracker:
        step(recipe.per_device_batch_size, recipe.max_prompt_length, length)
    return params, states, tracker.peak


@pytest.mark.slow
@pytest.mark.parametrize("world,shape", [("r1-mini", (6, 64, 192)), ("layer-bound", (2, 512, 3584)),
                                         ("real-vocab", (2, 16, 16))])
def test_the_estimate_matches_bytes_measured_on_a_cpu_step(world, shape, open_rs2):
    from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM
    from transformers.initialization import no_init_weights

    if sum(shape[1:]) >= 64 and not devices.cpu_sdpa_bf16_runs():
        pytest.skip("PyTorch's CPU sdpa kernel fails in bfloat16 on this machine; the estimate is for sdpa")
    torch.manual_seed(0)
    if world == "r1-mini":  # head-bound: the fold's temporaries over r1-mini's 768 vocabulary columns
        model = AutoModelForCausalLM.from_pretrained(worlds.resolve_model("r1-mini"), dtype=torch.bfloat16,
                                                     attn_implementation="sdpa")
    elif world == "layer-bound":  # the recomputed layer dominates, as on the real model
        model = Qwen2ForCausalLM(Qwen2Config(**LAYER_BOUND, attn_implementation="sdpa")).to(torch.bfloat16)
    else:  # 2 real layers, few tokens: the fp32 copy of a 32,768-row head chunk dominates (the dry run's shape)
        with no_init_weights():  # the values do not matter, and initialising 0.5 B weights takes seconds
            model = Qwen2ForCausalLM._from_config(Qwen2Config(**{**REAL, "num_hidden_layers": 2},
                                                              attn_implementation="sdpa"), dtype=torch.bfloat16)
        for param in model.parameters():
            torch.nn.init.uniform_(param.data, -0.03, 0.03)
    batch, prompt, completion = shape
    recipe = dataclasses.replace(open_rs2, per_device_batch_size=batch, max_prompt_length=prompt,
                                 max_completion_length=completion)
    est = memory.train_memory(recipe, config=model.config, device="cpu")
    params, states, peak = _measure_step(model, recipe)
    parts = {k: v * GIB for k, v in est.components.items()}
    assert params == parts["weights"] + parts["lora"]  # exact: bf16 base + fp32 LoRA
    assert states == parts["adam_states"]  # exact: two fp32 states per LoRA parameter
    measured = params + states + peak  # the peak holds the activations and the LoRA gradients
    expected = (est.total - est.components["vllm"]) * GIB
    assert measured == pytest.approx(expected, rel=0.05), (measured / 2**20, expected / 2**20)


def test_describe_states_the_estimate_for_gpu_recipes_only(open_rs2, monkeypatch):
    monkeypatch.setattr(devices, "visible_gpu_gib", lambda: None)
    text = describe(open_rs2)
    assert f"peak GPU memory ≈ {memory.train_memory(open_rs2).total:.1f} GiB" in text and "no GPU visible" in text
    assert "vllm 17.9" in text and "warning" not in text and len(text.splitlines()) == 4
    assert "GPU memory" not in describe(load_recipe("tiny"))  # a CPU recipe: nothing about GPUs
    monkeypatch.setattr(devices, "visible_gpu_gib", lambda: 16.0)
    assert "warning: the estimate exceeds this GPU's 16.0 GiB" in describe(open_rs2)
    monkeypatch.setattr(devices, "visible_gpu_gib", lambda: 139.8)
    text = describe(open_rs2)
    assert "on this 140 GiB GPU" in text and "warning" not in text and "vllm 55.9" in text
