"""The tiny offline world: task determinism, tokenizer round trip, build/cache/rebuild, offline loading.

Run: HF_HUB_OFFLINE=1 pytest tests/test_tiny.py
"""

import json
import socket

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tina_utils import worlds
from tina_utils.worlds import tiny


@pytest.fixture(scope="module")
def world():
    return tiny.build()


def test_problems_are_deterministic_and_splits_disjoint():
    first = tiny.make_problems(50, seed=3)
    assert first == tiny.make_problems(50, seed=3)
    assert first != tiny.make_problems(50, seed=4)
    train = {p["problem"] for p in tiny.make_problems(800, seed=0, split="train")}
    held_out = {p["problem"] for p in tiny.make_problems(200, seed=0, split="eval")}
    assert train.isdisjoint(held_out)
    assert all(str(sum(map(int, p["problem"].split("+")))) == p["answer"] for p in first)
    assert all(p["problem"].count("+") == 1 for p in tiny.make_problems(20, seed=0, difficulty="easy"))


def test_bad_split_names_the_valid_ones():
    with pytest.raises(ValueError, match="'train' or 'eval'"):
        tiny.make_problems(3, split="test")


def test_trace_is_r1_style():
    assert tiny.trace((3, 4, 5), close_think=True, answer=12) == "<think>\n3+4=7\n7+5=12\n</think>\n\\boxed{12}"
    assert "</think>" not in tiny.trace((3, 4), close_think=False, answer=7)


def test_tokenizer_keeps_think_tags_and_renders_the_chat_template():
    tokenizer = tiny.make_tokenizer()
    text = "<think>\n3+4=7\n</think>\n\\boxed{7}"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "3+4"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt == "<bos>q:3+4\na:"


def test_built_world_loads_with_from_pretrained(world):
    model = AutoModelForCausalLM.from_pretrained(world)
    tokenizer = AutoTokenizer.from_pretrained(world)
    assert model.config.model_type == "qwen2"
    assert 300_000 < model.num_parameters() < 2_000_000
    assert json.loads((world / "tiny_world.json").read_text())["version"] == tiny.WORLD_VERSION
    assert tokenizer.chat_template == tiny.CHAT_TEMPLATE


def test_greedy_generation_thinks_and_boxes(world):
    model = AutoModelForCausalLM.from_pretrained(world)
    tokenizer = AutoTokenizer.from_pretrained(world)
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": p["problem"]}], tokenize=False,
                                             add_generation_prompt=True) for p in tiny.make_problems(8, split="eval")]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=48, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    assert all(text.startswith("<think>\n") and "\\boxed{" in text for text in texts), texts


def test_second_build_reuses_the_cache(world):
    stamp = (world / "tiny_world.json").stat().st_mtime_ns
    assert tiny.build() == world
    assert (world / "tiny_world.json").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TINA_HOME", str(tmp_path))
    monkeypatch.setitem(tiny.WARM_START, "steps", 2)
    monkeypatch.setitem(tiny.WARM_START, "n_traces", 64)
    path = tiny.build()
    (path / "config.json").write_text("{not json")
    with caplog.at_level("WARNING"):
        rebuilt = tiny.build()
    assert rebuilt == path and "corrupt" in caplog.text
    assert AutoModelForCausalLM.from_pretrained(rebuilt).config.model_type == "qwen2"


def test_tiny_profile_never_touches_the_network(world, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    path = worlds.resolve_model(tiny.TINY_MODEL)
    AutoTokenizer.from_pretrained(path)
    AutoModelForCausalLM.from_pretrained(path)
    real = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    assert worlds.resolve_model(real) == real


def test_paper_model_offline_fails_with_an_actionable_message(monkeypatch):
    from tina_utils import env
    from tina_utils.train import load_model_and_tokenizer, load_recipe

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(env.HubUnavailable, match="huggingface-cli download deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"):
        load_model_and_tokenizer(load_recipe("open_rs2"))
