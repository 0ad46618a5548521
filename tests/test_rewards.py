"""Tests for tina_utils.rewards: every reward on hand-written completions, hand-computed values, robustness.
Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_rewards.py -q"""

import math
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tina_utils.rewards import DEFAULTS, REWARDS, get_reward_funcs

GOOD = "<think>\nStep 1: 3+4=7\nStep 2: 7+5=12\n</think>\n\\boxed{12}"
WRONG = "<think>\n3+4=7\n7+5=13\n</think>\n\\boxed{13}"
UNFORMATTED = "3+4+5 is 12"
MALFORMED = "<think>\n<think>\n7+5=12\n</think>\n\n</think>\n\\boxed{12"


def one(name, **params):
    """The single reward function registered as `name`."""
    return get_reward_funcs([name], **params)[0]


def chat(text):
    """A TRL conversational completion."""
    return [{"role": "assistant", "content": text}]


def test_registry_names_and_trl_names():
    assert list(REWARDS) == ["accuracy", "format", "tag_count", "length", "cosine", "reasoning_steps",
                             "repetition_penalty", "length_l1_exact", "length_l1_max"]
    assert [f.__name__ for f in get_reward_funcs(list(REWARDS))] == [f"{n}_reward" for n in REWARDS]


def test_unknown_names_and_params_suggest_the_closest():
    with pytest.raises(ValueError, match=r"\['accuracy'"):
        get_reward_funcs(["acuracy"])
    with pytest.raises(ValueError, match="cosine_max_len"):
        get_reward_funcs(["cosine"], cosine_maxlen=10)
    with pytest.raises(ValueError, match="length_unit"):
        get_reward_funcs(["length"], length_unit="words")


def test_accuracy():
    f = one("accuracy")
    texts = [GOOD, WRONG, UNFORMATTED, MALFORMED, ""]
    assert f(texts, solution=["$12$"] * 5) == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert f([chat(GOOD)], solution=["$12$"]) == [1.0]
    assert f([GOOD], solution=["not math"]) == [None]  # Tina skips unverifiable golds
    with pytest.raises(ValueError, match="solution"):
        f([GOOD])


def test_format():
    f = one("format")
    assert f([GOOD, WRONG, UNFORMATTED, MALFORMED, "</think>", chat(GOOD)]) == [1.0, 1.0, 0.0, 0.0, 0.0, 1.0]


def test_tag_count():
    f = one("tag_count")
    texts = [GOOD, UNFORMATTED, MALFORMED, "x\n</think>\n", "<think>\nx"]
    assert f(texts) == [1.0, 0.0, 0.0, 0.5, 0.5]


def test_reasoning_steps():
    f = one("reasoning_steps")
    texts = [GOOD, "First, a. Second, b. Finally, c. Next, d.", "First, a", UNFORMATTED, "1. a\n2. b\n3. c"]
    # "^\d+\." has no MULTILINE flag in Tina: only the leading "1." counts
    assert f(texts) == pytest.approx([2 / 3, 1.0, 1 / 3, 0.0, 1 / 3])


def test_repetition_penalty():
    f = one("repetition_penalty")
    # "a b c a b c": 3-grams abc, bca, cab, abc -> 3 distinct of 4 -> (1 - 3/4) * -1
    assert f(["a b c a b c", "a b", "", "A b C a B c"]) == pytest.approx([-0.25, 0.0, 0.0, -0.25])
    assert one("repetition_penalty", repetition_n_grams=2, repetition_max_penalty=-0.5)(["a a a a"]) == \
        pytest.approx([-0.5 * (1 - 1 / 3)])
    with pytest.raises(ValueError, match="repetition_max_penalty"):
        one("repetition_penalty", repetition_max_penalty=1.0)


def test_length_hand_computed():
    texts = ["\\boxed{12}", "\\boxed{13}" + "x" * 10, "\\boxed{12}" + " " * 30]  # 10, 20, 40 chars
    # lam = 0.5 - (len - 10) / 30: 0.5, 1/6, -0.5; the wrong one gets min(0, 1/6) = 0
    assert one("length")(texts, solution=["$12$"] * 3) == pytest.approx([0.5, 0.0, -0.5])
    assert one("length")(texts[:1] * 2, solution=["$12$"] * 2) == [0.0, 0.0]  # equal lengths
    assert one("length")(texts, solution=["not math"] * 3) == pytest.approx([0.5, 1 / 6, -0.5])  # gold -> correct


def _group(lengths, answer):
    """One prompt's completions: a boxed answer padded to each length in characters."""
    return [f"\\boxed{{{answer}}}".ljust(n, "x") for n in lengths]


def test_length_normalises_per_prompt_group_as_tina_did():
    short = _group([100, 200, 300, 400], 12)
    long_ = _group([900, 1500, 2200, 3000], 12)
    alone = one("length", group_size=4)(short, solution=["$12$"] * 4)
    assert alone == pytest.approx([0.5, 1 / 6, -1 / 6, -0.5])  # the group's own min/max
    # TRL 1.16 calls the reward once per generation batch: G consecutive completions per prompt
    batch = one("length", group_size=4)(short + long_, solution=["$12$"] * 8)
    assert batch == pytest.approx(alone + one("length", group_size=4)(long_, solution=["$12$"] * 4))
    spanning = one("length", group_size=4, length_reward_scope="batch")(short + long_, solution=["$12$"] * 8)
    assert spanning[:4] == pytest.approx([0.5, 0.4655, 0.4310, 0.3966], abs=1e-4)  # TRL's call, min/max over 8
    with pytest.raises(ValueError, match="not whole groups of 4"):
        one("length", group_size=4)(short[:3], solution=["$12$"] * 3)


def test_length_in_tokens():
    texts = ["\\boxed{12}", "\\boxed{13}", "\\boxed{12}"]
    ids = [[1], [1, 2], [1, 2, 3, 4]]  # lam = 0.5 - (n - 1) / 3
    assert one("length", length_unit="tokens")(texts, solution=["$12$"] * 3, completion_ids=ids) == \
        pytest.approx([0.5, 0.0, -0.5])
    words = lambda text, add_special_tokens: {"input_ids": text.split()}  # noqa: E731 (a stand-in tokenizer)
    padded = ["\\boxed{12}", "\\boxed{13} a", "\\boxed{12} a b c"]
    assert one("length", length_unit="tokens", tokenizer=words)(padded, solution=["$12$"] * 3) == \
        pytest.approx([0.5, 0.0, -0.5])
    with pytest.raises(ValueError, match="tokenizer"):
        one("length", length_unit="tokens")(texts, solution=["$12$"] * 3)


def test_cosine_hand_computed():
    f = one("cosine", cosine_max_len=20)
    texts = ["\\boxed{12}", "\\boxed{13}", "\\boxed{12}" + " " * 10, "\\boxed{13}" + " " * 10,
             "\\boxed{12}" + " " * 30]
    # r = lo + (hi - lo) * (1 + cos(pi * len / 20)) / 2; correct (lo, hi) = (0.5, 1.0), wrong = (-0.5, 0.0)
    expected = [0.75, -0.25, 0.5, -0.5, 1.0]  # len 10, 10, 20, 20, and 40 (> max_len wraps back to 1.0)
    assert f(texts, solution=["$12$"] * 5) == pytest.approx(expected)
    long_wrong = f(["\\boxed{13}" + " " * 90], solution=["$12$"])[0]  # 100 chars: cos(5 pi) = -1
    assert long_wrong == pytest.approx(-0.5 + 0.25 * (1 + math.cos(5 * math.pi)))
    assert f([UNFORMATTED], solution=["$12$"]) == pytest.approx([-0.5 + 0.25 * (1 + math.cos(math.pi * 11 / 20))])


def test_cosine_quirks_and_fixes():
    assert one("cosine")([GOOD], solution=["not math"]) == [1.0]
    assert one("cosine", cosine_skip_unparseable_gold=True)([GOOD], solution=["not math"]) == [None]
    interval = ["\\boxed{(1,2)}"]  # 13 chars; matches gold 1<x<2 only as verify(gold, pred)
    tina = one("cosine", cosine_max_len=13)(interval, solution=["$1<x<2$"])
    fixed = one("cosine", cosine_max_len=13, cosine_fix_verify_order=True)(interval, solution=["$1<x<2$"])
    assert (tina, fixed) == (pytest.approx([-0.5]), pytest.approx([0.5]))


def test_l1_exact_and_max_hand_computed():
    texts = ["\\boxed{12}", "\\boxed{13}", "\\boxed{12}", "\\boxed{12}"]  # all 10 chars
    targets = [100, 100, 10, 4000]
    exact = one("length_l1_exact")(texts, solution=["$12$"] * 4, target_length=targets)
    assert exact == pytest.approx([1 - 0.0003 * 90, -0.0003 * 90, 1.0, 1 - 0.0003 * 3990])
    top = one("length_l1_max")(texts, solution=["$12$"] * 4, target_length=targets)
    assert top == pytest.approx([0.0003 * 90 + 0.5, 0.0, 0.5, 1.0])  # clip(alpha*(t-n)+delta, 0, 1)
    long = ["\\boxed{12}" + " " * 1990]
    assert one("length_l1_max")(long, solution=["$12$"], target_length=[10]) == [0.0]  # 0.5 - 0.597 -> 0
    with pytest.raises(ValueError, match="target_length"):
        one("length_l1_max")(texts, solution=["$12$"] * 4)


ADVERSARIAL = ["", "\\boxed{9^{9^{9^{9}}}}", "\\boxed{" * 500, "}" * 500 + "\\boxed{}}}", "x" * 1_000_000,
               "\\boxed{\\boxed{\\boxed{1}}}", "答案 \\boxed{３} ☃ \u200b\U0001F600", "\\boxed{\\frac{1}{",
               "$" * 5000,
               "\n</think>\n" * 3, "Step 1: Step 2: " * 1000]


@settings(deadline=timedelta(seconds=60), max_examples=25, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(), st.text(alphabet="\\{}$^_boxedfrac0123456789 \n<>/think"),
                 st.sampled_from(ADVERSARIAL)))
@example("\\boxed{9^{9^{9^{9}}}}")
@example("x" * 1_000_000 + "\\boxed{12}")
def test_no_reward_raises_on_any_string(text):
    funcs = get_reward_funcs(list(REWARDS), grade_timeout=0.5, cosine_max_len=3584)
    for f in funcs:
        out = f([text, chat(text)], solution=["$12$", "$\\frac{1}{2}$"], target_length=[100, 100])
        assert len(out) == 2 and all(v is None or isinstance(v, float) for v in out), f.__name__


def test_defaults_are_tinas():
    cosine = ["cosine_min_value_wrong", "cosine_max_value_wrong", "cosine_min_value_correct",
              "cosine_max_value_correct", "cosine_max_len"]
    assert [DEFAULTS[key] for key in cosine] == [0.0, -0.5, 0.5, 1.0, 1000]
    assert (DEFAULTS["repetition_n_grams"], DEFAULTS["repetition_max_penalty"]) == (3, -1.0)
    assert (DEFAULTS["l1_alpha"], DEFAULTS["l1_delta"], DEFAULTS["length_unit"]) == (0.0003, 0.5, "chars")
