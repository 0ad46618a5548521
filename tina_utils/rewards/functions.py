"""Tina's GRPO rewards with TRL 1.16's signature, under the names Tina's recipes use (02_train).

Semantics follow Tina's tina/post_train_hf/rewards.py (copied there from open-r1/open-rs) by default; each
known quirk is written in the builder's docstring, with the recipe param that switches to a corrected
variant where one makes sense. Every reward is f(completions, **kwargs) -> list[float | None] (None = cannot
be verified, TRL turns it into NaN); completions are plain strings or conversational message lists, and
the `solution` / `target_length` dataset columns arrive in kwargs. Answers are graded by grading.py, batched
(grade_many), in killable worker processes.
"""

import math
import re

from tina_utils import env
from tina_utils.rewards import grading

DEFAULTS = {  # recipe keys, Tina's values (tina/config.py; L1 constants from its rewards.py)
    "cosine_min_value_wrong": 0.0,
    "cosine_max_value_wrong": -0.5,
    "cosine_min_value_correct": 0.5,
    "cosine_max_value_correct": 1.0,
    "cosine_max_len": 1000,
    "cosine_fix_verify_order": False,
    "cosine_skip_unparseable_gold": False,
    "length_fix_verify_order": False,
    "length_unit": "chars",
    "length_reward_scope": "group",
    "group_size": None,
    "repetition_n_grams": 3,
    "repetition_max_penalty": -1.0,
    "l1_alpha": 0.0003,
    "l1_delta": 0.5,
    "tokenizer": None,
    "grade_timeout": grading.DEFAULT_TIMEOUT,
    "grade_workers": None,
}
_STEP_PATTERN = re.compile(r"(Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)")
_MIN_STEPS = 3  # Tina's magic number: three step markers earn the full reward


def _params(params: dict) -> dict:
    """DEFAULTS updated with `params`; unknown keys raise naming the closest valid key."""
    for key in params:
        if key not in DEFAULTS:
            close = env.closest_first(key, DEFAULTS)[:3]
            raise ValueError(f"unknown reward param {key!r}; closest valid keys: {close} "
                             f"(all: {sorted(DEFAULTS)})")
    p = {**DEFAULTS, **params}
    if p["length_unit"] not in ("chars", "tokens"):
        raise ValueError(f"length_unit must be 'chars' or 'tokens', got {p['length_unit']!r}")
    if p["length_reward_scope"] not in ("group", "batch"):
        raise ValueError(f"length_reward_scope must be 'group' or 'batch', got {p['length_reward_scope']!r}")
    return p


def completion_text(completion) -> str:
    """Text of one completion: the string itself, or the first message's content (as Tina read it)."""
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, (list, tuple)):
        if not completion:
            return ""
        first = completion[0]
        completion = first.get("content") if isinstance(first, dict) else first
        if isinstance(completion, list):  # content given as typed parts
            completion = "".join(part.get("text") or "" if isinstance(part, dict) else str(part)
                                 for part in completion)
    return "" if completion is None else completion if isinstance(completion, str) else str(completion)


def _column(kwargs: dict, key: str, n: int, reward: str) -> list:
    """Dataset column `key` from TRL's kwargs, one value per completion."""
    values = kwargs.get(key)
    if values is None:
        raise ValueError(f"{reward} needs the dataset column {key!r} (TRL passes every column except 'prompt')")
    if isinstance(values, (str, int, float)):
        values = [values] * n
    if len(values) != n:
        raise ValueError(f"{reward}: {len(values)} values in {key!r} for {n} completions")
    return list(values)


def _lengths(texts: list, kwargs: dict, p: dict) -> list:
    """Completion lengths in characters (Tina) or tokens (TRL's completion_ids, else the tokenizer param)."""
    if p["length_unit"] == "chars":
        return [len(text) for text in texts]
    ids = kwargs.get("completion_ids")
    if ids is not None and len(ids) == len(texts):
        return [len(row) for row in ids]
    if p["tokenizer"] is None:
        raise ValueError("length_unit='tokens' needs TRL's completion_ids kwarg or a tokenizer=... param")
    return [len(p["tokenizer"](text, add_special_tokens=False)["input_ids"]) for text in texts]


def _correct(texts: list, kwargs: dict, p: dict, name: str, fixed_order: bool) -> list:
    """Tina's correctness for cosine/length/L1: LaTeX-parsed gold, verify(pred, gold) unless fixed_order."""
    golds = _column(kwargs, "solution", len(texts), name)
    return grading.grade_many(list(zip(texts, golds)), profile="train_latex", workers=p["grade_workers"],
                              timeout=p["grade_timeout"], reverse_verify=not fixed_order)


def _named(func, name: str, doc: str):
    """Give a reward the name TRL logs (rewards/<name>_reward/mean) and its builder's docstring."""
    func.__name__ = func.__qualname__ = f"{name}_reward"
    func.__doc__ = doc
    return func


def get_accuracy_reward(**params):
    """1.0 if the completion's answer (boxed first) matches `solution`, else 0.0; None if the gold can't be parsed.

    Grading profile "train" (grading.py). A timed-out item scores 0.0. Open-RS gave 1.0 for unparseable gold.
    """
    p = _params(params)

    def reward(completions, **kwargs):
        texts = [completion_text(c) for c in completions]
        golds = _column(kwargs, "solution", len(texts), "accuracy_reward")
        verdicts = grading.grade_many(list(zip(texts, golds)), profile="train",
                                      workers=p["grade_workers"], timeout=p["grade_timeout"])
        return [None if v is None else float(v) for v in verdicts]

    return _named(reward, "accuracy", get_accuracy_reward.__doc__)


def get_format_reward(**params):
    """1.0 iff "\\n</think>\\n" occurs exactly once. Nothing else is checked (Tina: <think> is in the prompt)."""
    _params(params)

    def reward(completions, **kwargs):
        return [float(completion_text(c).count("\n</think>\n") == 1) for c in completions]

    return _named(reward, "format", get_format_reward.__doc__)


def get_tag_count_reward(**params):
    """0.5 for exactly one "<think>\\n" plus 0.5 for exactly one "\\n</think>\\n"."""
    _params(params)

    def reward(completions, **kwargs):
        texts = [completion_text(c) for c in completions]
        return [0.5 * (t.count("<think>\n") == 1) + 0.5 * (t.count("\n</think>\n") == 1) for t in texts]

    return _named(reward, "tag_count", get_tag_count_reward.__doc__)


def get_reasoning_steps_reward(**params):
    """min(1, step markers / 3), markers: "Step N:", "N." at the start, "\\n-", "\\n*", First/Second/Next/Finally,.

    Quirk kept: the pattern has no MULTILINE flag, so "^\\d+\\." only matches a numbered line at the very start.
    """
    _params(params)

    def reward(completions, **kwargs):
        return [min(1.0, len(_STEP_PATTERN.findall(completion_text(c))) / _MIN_STEPS) for c in completions]

    return _named(reward, "reasoning_steps", get_reasoning_steps_reward.__doc__)


def get_repetition_penalty_reward(**params):
    """(1 - distinct n-grams / n-grams) * max_penalty over lower-cased words; 0.0 below n words.

    Params: repetition_n_grams (3), repetition_max_penalty (-1.0, must be <= 0). From Tina/open-r1
    (arXiv 2502.03373, App. C.2). An unrepeated text scores -0.0 (== 0.0), as in Tina.
    """
    p = _params(params)
    size, penalty = int(p["repetition_n_grams"]), float(p["repetition_max_penalty"])
    if penalty > 0 or size < 1:
        raise ValueError(f"repetition_max_penalty must be <= 0 and repetition_n_grams >= 1, got {penalty}, {size}")

    def score(text: str) -> float:
        words = text.lower().split()
        if len(words) < size:
            return 0.0
        grams = [tuple(words[i:i + size]) for i in range(len(words) - size + 1)]
        return (1 - len(set(grams)) / len(grams)) * penalty

    def reward(completions, **kwargs):
        return [score(completion_text(c)) for c in completions]

    return _named(reward, "repetition_penalty", get_repetition_penalty_reward.__doc__)


def _kimi_length_scores(lengths: list, correct: list) -> list:
    """Kimi-1.5 scores of one normalisation block: lam = 0.5 - (len - min) / (max - min); all equal -> 0.0."""
    low, high = min(lengths), max(lengths)
    if high == low:
        return [0.0] * len(lengths)
    lams = [0.5 - (n - low) / (high - low) for n in lengths]
    return [float(lam if ok is not False else min(0.0, lam)) for lam, ok in zip(lams, correct)]


def _blocks(n: int, p: dict) -> list:
    """(start, stop) of each normalisation block: consecutive groups of group_size, or the whole call."""
    size = p["group_size"] if p["length_reward_scope"] == "group" and p["group_size"] else n
    if n % size:
        raise ValueError(f"length reward: {n} completions are not whole groups of {size}")
    return [(start, start + size) for start in range(0, n, size)]


def get_length_reward(**params):
    """Kimi-1.5 length reward: lam = 0.5 - (len - min) / (max - min); correct: lam, wrong: min(0, lam).

    min/max span one prompt's G completions, as in Tina (its trainer called rewards once per micro-batch of one
    group): TRL 1.16 passes the whole generation batch, with each group's G completions consecutive, so the
    recipe's G arrives as group_size; length_reward_scope="batch" spans the whole call instead. Quirks kept
    (Tina): all lengths equal -> all 0.0; lengths in characters (length_unit="tokens" counts tokens); gold parsed
    as LaTeX and verify(pred, gold) (length_fix_verify_order=True for verify(gold, pred)); an unparseable gold
    counts as correct.
    """
    p = _params(params)

    def reward(completions, **kwargs):
        texts = [completion_text(c) for c in completions]
        if not texts:
            return []
        correct = _correct(texts, kwargs, p, "length_reward", p["length_fix_verify_order"])
        lengths = _lengths(texts, kwargs, p)
        return [score for start, stop in _blocks(len(texts), p)
                for score in _kimi_length_scores(lengths[start:stop], correct[start:stop])]

    return _named(reward, "length", get_length_reward.__doc__)


def get_cosine_reward(**params):
    """Cosine-scaled length reward: lo + (hi - lo) * (1 + cos(pi * len / cosine_max_len)) / 2.

    Correct: lo, hi = cosine_min_value_correct, cosine_max_value_correct (short -> hi). Wrong: lo, hi =
    cosine_max_value_wrong, cosine_min_value_wrong; with Tina's values (0.0, -0.5) an empty wrong answer
    scores 0.0 and one of cosine_max_len scores -0.5, so longer wrong answers score lower.
    Quirks kept (Tina): length in characters while Tina's cosine_max_len 3584 is a token budget, and
    len > max_len wraps the cosine back up (length_unit="tokens" fixes both in practice); verify called as
    verify(pred, gold) (cosine_fix_verify_order=True); unparseable gold scores 1.0
    (cosine_skip_unparseable_gold=True gives None).
    """
    p = _params(params)
    max_len = float(p["cosine_max_len"])
    if max_len <= 0:
        raise ValueError(f"cosine_max_len must be > 0, got {max_len}")

    def reward(completions, **kwargs):
        texts = [completion_text(c) for c in completions]
        correct = _correct(texts, kwargs, p, "cosine_reward", p["cosine_fix_verify_order"])
        out = []
        for n, ok in zip(_lengths(texts, kwargs, p), correct):
            if ok is None:
                out.append(None if p["cosine_skip_unparseable_gold"] else 1.0)
                continue
            low, high = ((p["cosine_min_value_correct"], p["cosine_max_value_correct"]) if ok else
                         (p["cosine_max_value_wrong"], p["cosine_min_value_wrong"]))
            out.append(float(low + 0.5 * (high - low) * (1.0 + math.cos(math.pi * n / max_len))))
        return out

    return _named(reward, "cosine", get_cosine_reward.__doc__)


def _l1_reward(name: str, doc: str, value, params: dict):
    """An L1/LCPO reward: value(correct, target, length, p) per completion; None where target is missing."""
    p = _params(params)

    def reward(completions, **kwargs):
        texts = [completion_text(c) for c in completions]
        targets = _column(kwargs, "target_length", len(texts), f"{name}_reward")
        correct = _correct(texts, kwargs, p, f"{name}_reward", p["length_fix_verify_order"])
        out = []
        for ok, target, n in zip(correct, targets, _lengths(texts, kwargs, p)):
            try:
                out.append(float(value(float(ok is not False), float(target), n, p)))
            except (TypeError, ValueError):
                out.append(None)
        return out

    return _named(reward, name, doc)


def get_length_l1_exact_reward(**params):
    """L1-Exact (LCPO): correct - l1_alpha * |target_length - len|, correct in {0, 1}; alpha 0.0003.

    Tina's copy also returned all zeros when every length was equal (copied from `length`) and subtracted
    the whole target_length column (a TypeError, so its L1 recipes never ran); we follow L1 instead.
    Lengths in characters as in Tina (length_unit="tokens" as in L1); unparseable gold counts as correct.
    """
    return _l1_reward("length_l1_exact", get_length_l1_exact_reward.__doc__,
                      lambda ok, target, n, p: ok - p["l1_alpha"] * abs(target - n), params)


def get_length_l1_max_reward(**params):
    """L1-Max (LCPO): correct * clip(l1_alpha * (target_length - len) + l1_delta, 0, 1); alpha 0.0003, delta 0.5.

    Same notes as length_l1_exact (Tina's all-equal-lengths zeros and list arithmetic not reproduced).
    """
    return _l1_reward("length_l1_max", get_length_l1_max_reward.__doc__,
                      lambda ok, target, n, p: ok * min(1.0, max(0.0, p["l1_alpha"] * (target - n)
                                                                  + p["l1_delta"])), params)


REWARDS = {  # recipe name -> builder(**params) -> reward function
    "accuracy": get_accuracy_reward,
    "format": get_format_reward,
    "tag_count": get_tag_count_reward,
    "length": get_length_reward,
    "cosine": get_cosine_reward,
    "reasoning_steps": get_reasoning_steps_reward,
    "repetition_penalty": get_repetition_penalty_reward,
    "length_l1_exact": get_length_l1_exact_reward,
    "length_l1_max": get_length_l1_max_reward,
}


def get_reward_funcs(names: list, **params) -> list:
    """Reward functions for recipe `names` (Tina's spelling), built with recipe `params` over DEFAULTS."""
    if isinstance(names, str):
        names = [names]
    for name in names:
        if name not in REWARDS:
            close = env.closest_first(name, REWARDS)
            raise ValueError(f"unknown reward {name!r}; valid names, closest first: {close}")
    return [REWARDS[name](**params) for name in names]


accuracy_reward = get_accuracy_reward()
format_reward = get_format_reward()
tag_count_reward = get_tag_count_reward()
reasoning_steps_reward = get_reasoning_steps_reward()
