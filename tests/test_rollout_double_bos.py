"""`rollout_double_bos`: rollouts sampled after two BOS tokens, as Tina's vLLM 0.7.2 sampled them, scored with one.

Tina's vLLM tokenised the templated prompt text with special tokens; on R1's tokenizer that is one BOS more than the
template's own. The switch hands the generator (vLLM or transformers) that input and leaves the prompt the loss
scores alone. Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_rollout_double_bos.py -q
"""

import types

import pytest
from transformers import AutoTokenizer, TrainerState
from transformers.generation.utils import GenerationMixin
from trl import GRPOTrainer

from tina_utils import train, worlds
from tina_utils.data.prompts import OPEN_RS_SYSTEM_PROMPT, REASON_CHAT_TEMPLATE
from tina_utils.data.train_sets import messages
from tina_utils.train import load_recipe
from tina_utils.train.grouped_trainer import GroupedGRPOTrainer

CHATS = [messages(OPEN_RS_SYSTEM_PROMPT, "What is 1+1?"), messages(OPEN_RS_SYSTEM_PROMPT, "Simplify $\\sqrt{125}$.")]


@pytest.fixture(scope="module")
def r1_tokenizer():
    """r1-mini's tokenizer (R1's roles, add_bos_token) with the training chat template, as the runner sets it."""
    tokenizer = AutoTokenizer.from_pretrained(worlds.resolve_model("r1-mini"))
    tokenizer.chat_template = REASON_CHAT_TEMPLATE
    return tokenizer


def vllm_rollout_input(tokenizer, prompt_ids, double_bos: bool) -> list[list[int]]:
    """The token ids GroupedGRPOTrainer's vLLM path hands the engine (recorded: vLLM itself needs a GPU)."""
    seen = []

    def generate(prompts, **_):
        seen.extend(prompts)
        return None, [[0]] * len(prompts), [[[0.0]]] * len(prompts), None

    engine = types.SimpleNamespace(sync_weights=lambda: None, generate=generate)
    trainer = GroupedGRPOTrainer.__new__(GroupedGRPOTrainer)
    trainer.__dict__.update(use_vllm=True, vllm_generation=engine, state=TrainerState(), _last_loaded_step=0,
                            args=types.SimpleNamespace(report_to=[]), processing_class=tokenizer,
                            accelerator=types.SimpleNamespace(device="cpu", is_main_process=True),
                            rollout_double_bos=double_bos)
    trainer._generate_single_turn(prompt_ids, None, {}, 1)
    return seen


def test_vllm_rollouts_get_what_tinas_vllm_tokenised(r1_tokenizer):
    prompt_ids = r1_tokenizer.apply_chat_template(CHATS, add_generation_prompt=True, tokenize=True)["input_ids"]
    texts = r1_tokenizer.apply_chat_template(CHATS, add_generation_prompt=True, tokenize=False)
    tinas = r1_tokenizer(texts)["input_ids"]  # vLLM 0.7.2: the text tokenised with special tokens
    bos = r1_tokenizer.bos_token_id
    assert all(ids[:2] == [bos, bos] and ids[2] != bos for ids in tinas)
    assert vllm_rollout_input(r1_tokenizer, prompt_ids, double_bos=True) == tinas
    assert vllm_rollout_input(r1_tokenizer, prompt_ids, double_bos=False) == prompt_ids  # TRL 1.16: one BOS
    assert all(ids[0] == bos and ids[1] != bos for ids in prompt_ids)


def rows(ids, mask) -> list[tuple]:
    """The unpadded rows of a left-padded batch, sorted."""
    return sorted(tuple(row[keep.bool()].tolist()) for row, keep in zip(ids, mask))


@pytest.mark.slow
def test_transformers_rollouts_get_the_extra_bos_and_the_loss_scores_one(tmp_path, monkeypatch):
    recipe = load_recipe("tiny", rollout_double_bos=True, prompts_per_step=2, num_generations=4,
                         per_device_batch_size=8, max_completion_length=16, dataset_n=16, max_steps=1, save_steps=1,
                         transition_mode="off", log_completions=False)
    generated, scored = [], []
    original_sample, original_loss = GenerationMixin._sample, GRPOTrainer._compute_loss

    def sample(self, input_ids, *args, **kwargs):
        generated.extend(rows(input_ids, kwargs["attention_mask"]))
        return original_sample(self, input_ids, *args, **kwargs)

    def compute_loss(self, model, inputs):
        scored.extend(rows(inputs["prompt_ids"], inputs["prompt_mask"]))
        return original_loss(self, model, inputs)

    monkeypatch.setattr(GenerationMixin, "_sample", sample)
    monkeypatch.setattr(GRPOTrainer, "_compute_loss", compute_loss)
    train.train(recipe, tmp_path / "run")
    bos = AutoTokenizer.from_pretrained(worlds.resolve_model("tina-tiny")).bos_token_id
    assert len(generated) == len(scored) == recipe.prompts_per_step * recipe.num_generations
    assert all(row[0] == bos and row[1] != bos for row in scored)  # the loss: the template's one BOS
    assert sorted(generated) == sorted((bos, *row) for row in scored)  # the off case: tests/test_objective.py
