"""The R1-shaped mini world: the real tokenizer's roles, added tokens and chat template; the real config at toy size.

Run: pytest tests/test_r1_mini.py
"""

import json

import pytest

from tina_utils import worlds
from tina_utils.worlds import r1_mini
from tina_utils.worlds.r1_mini import BOS, EOS


@pytest.fixture(scope="module")
def world():
    from transformers import AutoConfig, AutoTokenizer

    path = worlds.resolve_model("r1-mini")
    return path, AutoTokenizer.from_pretrained(path), AutoConfig.from_pretrained(path)


def test_the_name_resolves_to_a_cached_world_and_other_ids_pass_through(world):
    path, _, _ = world
    assert worlds.resolve_model("r1-mini") == path == str(r1_mini.world_dir(0))
    assert json.loads((r1_mini.world_dir(0) / "r1_mini.json").read_text())["version"] == r1_mini.VERSION
    real = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    assert worlds.resolve_model(real) == real


def test_tokenizer_has_the_real_roles_and_added_tokens_in_the_real_order(world):
    _, tok, _ = world
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == (BOS, EOS, EOS, None)
    assert len(tok) == r1_mini.BPE_VOCAB_SIZE + 22  # no token beyond the learned ones and the real added ones
    ids = [tok.convert_tokens_to_ids(token) for token, _ in r1_mini.ADDED_TOKENS]
    assert ids == list(range(ids[0], ids[0] + 22)) and ids[0] == tok.eos_token_id  # eos first, as 151643
    assert tok.bos_token_id == ids[0] + 3 and tok.convert_tokens_to_ids("<|fim_pad|>") == ids[0] + 19
    special = {token for token, is_special in r1_mini.ADDED_TOKENS if is_special}
    assert "<think>" not in special and {BOS, EOS} <= special
    text = "<think>\nx = 2</think> so \\boxed{2}"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text  # <think> survives, as the format reward needs
    assert tok.convert_tokens_to_ids("<think>") in ids


def test_add_bos_token_gives_two_bos_on_chat_text_as_lighteval_sent_it(world):
    _, tok, _ = world
    text = tok.apply_chat_template([{"role": "user", "content": "1+1?"}], tokenize=False, add_generation_prompt=True)
    with_special = tok(text)["input_ids"]
    assert with_special[:2] == [tok.bos_token_id] * 2
    assert tok(text, add_special_tokens=False)["input_ids"][0] == tok.bos_token_id


def test_chat_template_behaves_like_the_original_release(world):
    _, tok, _ = world
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1+1?"},
                {"role": "assistant", "content": "<think>\nadd</think>\n\\boxed{2}"},
                {"role": "user", "content": "2+2?"}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == f"{BOS}Be brief.<｜User｜>1+1?<｜Assistant｜>\n\\boxed{{2}}{EOS}<｜User｜>2+2?<｜Assistant｜>"
    assert tok.apply_chat_template(messages[1:2], tokenize=False) == f"{BOS}<｜User｜>1+1?"
    call = {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "add", "arguments": "{}"}}]}
    tool = tok.apply_chat_template([messages[1], call, {"role": "tool", "content": "2"}], tokenize=False,
                                   add_generation_prompt=True)
    assert "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>add" in tool
    assert tool.endswith("<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>2<｜tool▁output▁end｜><｜tool▁outputs▁end｜>")


def test_config_equals_the_real_model_except_sizes(world):
    _, tok, config = world
    assert config.architectures == ["Qwen2ForCausalLM"] and config.model_type == "qwen2"
    assert config.tie_word_embeddings is False and config.rms_norm_eps == 1e-6 and config.hidden_act == "silu"
    assert config.max_position_embeddings == 131072 and config.rope_parameters["rope_theta"] == 10000.0
    assert config.sliding_window is None and config.use_sliding_window is False and config.max_window_layers == 21
    assert str(config.dtype).endswith("bfloat16")
    assert config.num_attention_heads // config.num_key_value_heads == 6  # GQA 12:2 as the real model
    assert config.bos_token_id == config.eos_token_id == tok.eos_token_id  # as the real config.json (both eos)
    assert config.vocab_size >= len(tok) and config.vocab_size % 64 == 0


def test_model_loads_with_from_pretrained_in_bf16_and_generates(world):
    import torch
    from transformers import AutoModelForCausalLM

    path, tok, _ = world
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.dtype == torch.bfloat16
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
    ids = tok("2+2=", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.eos_token_id)
    assert out.shape[1] <= ids["input_ids"].shape[1] + 4
