"""What one grading worker runs: math-verify parsing and verification per grading profile, with its caches.

Profiles name math-verify settings: "train" is Tina's accuracy reward (gold parsed with math-verify's default
[Latex, Expr] configs in first_match mode, exactly as Tina's code did; prediction: LaTeX only, boxed first,
no anchor-less matches); "train_latex" differs only in parsing gold with LatexExtractionConfig(), as Tina's
cosine/length rewards did; "expr" (AIME/AMC), "latex" (MATH500/Minerva) and "letter" (GPQA) copy the
extraction configs of Tina's lighteval tasks (precision 5).

Caches, per process: parsed gold answers; parsed predictions (by text digest: accuracy, cosine and length
grade the same completion); verify results keyed on the exact structure (srepr) of the parsed prediction;
and math-verify's 20-entry cache of parsed LaTeX strings is enlarged. The G samples of a prompt share a gold
and often an answer, so each is parsed and compared once. The time limit and the worker processes are in
grading.py and grading_pool.py.
"""

import hashlib
import logging
from functools import lru_cache
from typing import NamedTuple

from latex2sympy2_extended import NormalizationConfig
from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig, parse, verify
from math_verify import parser as mv_parser
from sympy import Basic, srepr

logger = logging.getLogger(__name__)

_WORKER_MEMORY = 4 << 30  # address-space cap per worker, so a runaway integer cannot exhaust the host

# Tina's prediction config (accuracy, cosine, length): boxed answers first, only anchored matches.
# Tina passed boxed=True to length/cosine; in latex2sympy2_extended 1.11 that flag became "all"/"last"/"none".
_TINA_PRED = LatexExtractionConfig(
    normalization_config=NormalizationConfig(basic_latex=True, units=True, malformed_operators=False,
                                             nits=False, boxed="all", equations=True),
    boxed_match_priority=0,
    try_extract_without_anchor=False,
)
_EVAL_PRED = [ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0)]
_LETTERS = [StringExtractionConfig(strings=("A", "B", "C", "D"))]

_WARMUP = [r"\boxed{12}", r"\boxed{\frac{3}{4}}", r"\boxed{2\sqrt{3}}", r"\boxed{\dfrac{\pi}{4}}",
           r"\boxed{-\frac{b \pm \sqrt{b^2-4ac}}{2a}}", r"\boxed{(1, 2]}", r"\boxed{\{1, 2\}}", r"\boxed{x = 5}",
           r"\boxed{3.5}", r"\boxed{10\%}", r"\boxed{30^\circ}", r"\boxed{\text{(A)}}", r"\boxed{a^{2}+b_{1}}",
           r"The answer is $\frac{7}{3}$", r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\boxed{\infty}"]


class Profile(NamedTuple):
    """math-verify's settings for one kind of gold answer."""

    gold_configs: list
    gold_mode: str
    pred_configs: list
    pred_mode: str
    verify_kwargs: dict
    anchored_only: bool  # a prediction counts only after \boxed{} or an answer word


PROFILES = {
    "train": Profile([LatexExtractionConfig(), ExprExtractionConfig()], "first_match", [_TINA_PRED], "first_match",
                     {}, True),
    "train_latex": Profile([LatexExtractionConfig()], "first_match", [_TINA_PRED], "first_match", {}, True),
    "expr": Profile([ExprExtractionConfig()], "any_match", _EVAL_PRED, "any_match", {"float_rounding": 5}, False),
    "latex": Profile([LatexExtractionConfig()], "any_match", _EVAL_PRED, "any_match", {"float_rounding": 5}, False),
    "letter": Profile(_LETTERS, "any_match", _LETTERS, "any_match", {}, False),
}
_PRED_CACHE: dict = {}  # (text digest, pred configs, mode) -> parsed prediction, per process
_VERIFY_CACHE: dict = {}  # (gold, profile, reverse, srepr of prediction) -> verdict, per process


class _DropEquationsWarning(logging.Filter):
    """Drop latex2sympy's per-call "equations=True is deprecated" warning: Tina's config sets it on purpose."""

    def filter(self, record):
        return "equations=True" not in str(record.msg)


logging.getLogger("latex2sympy2_extended.math_normalization").addFilter(_DropEquationsWarning())


# ---------------------------------------------------------------- grading itself (runs in a worker)
@lru_cache(maxsize=4096)
def _parse_gold(gold: str, profile: str) -> list:
    """Parsed gold answer (cached: the same gold is graded G times per prompt and again every epoch)."""
    chosen = PROFILES[profile]
    return parse(gold, extraction_config=chosen.gold_configs, extraction_mode=chosen.gold_mode, parsing_timeout=None)


def _parse_pred(text: str, profile: str) -> list:
    """Parsed prediction, memoised by a digest of the text: accuracy, cosine and length grade the same text."""
    configs, mode = PROFILES[profile].pred_configs, PROFILES[profile].pred_mode
    key = (hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest(), tuple(configs), mode)
    if key not in _PRED_CACHE:
        if len(_PRED_CACHE) > 4096:
            _PRED_CACHE.clear()
        _PRED_CACHE[key] = parse(text, extraction_config=configs, extraction_mode=mode, parsing_timeout=None)
    return _PRED_CACHE[key]


def _answer_text(parsed: list) -> str | None:
    """The string form of a math-verify parse result (its fallback string), or None if nothing was found."""
    strings = [item for item in parsed if isinstance(item, str)]
    return strings[-1] if strings else (str(parsed[0]) if parsed else None)


def _structure(item) -> str | tuple:
    """Exact, hashable structure of a parse result item (srepr keeps types, assumptions and precision)."""
    if isinstance(item, str):
        return ("str", item)
    if isinstance(item, Basic):
        return srepr(item)
    raise TypeError(f"no cache key for {type(item).__name__}")


def _verify(gold: str, profile: str, gold_parsed: list, pred: list, reverse: bool) -> bool:
    """math-verify's verify, memoised on the exact structure (srepr) of the prediction."""
    try:
        key = (gold, profile, reverse, tuple(_structure(x) for x in pred))
    except Exception:  # a matrix, or an integer too long to print: just verify
        key = None
    if key in _VERIFY_CACHE:
        return _VERIFY_CACHE[key]
    pair = (pred, gold_parsed) if reverse else (gold_parsed, pred)
    verdict = bool(verify(*pair, timeout_seconds=None, **PROFILES[profile].verify_kwargs))
    if key is not None:
        if len(_VERIFY_CACHE) > 50_000:
            _VERIFY_CACHE.clear()
        _VERIFY_CACHE[key] = verdict
    return verdict


def grade_local(text: str, gold: str | None, profile: str, reverse: bool) -> tuple:
    """(verdict, extracted answer, gold parsed?) for one item, with no time limit."""
    try:
        pred = _parse_pred(text, profile)
        if gold is None:
            return None, _answer_text(pred), None
        gold_parsed = _parse_gold(gold, profile)
        if not gold_parsed:
            return None, _answer_text(pred), False
        return _verify(gold, profile, gold_parsed, pred, reverse), _answer_text(pred), True
    except Exception:  # math-verify swallows its own errors; this only guards against surprises
        logger.exception("grading failed, counted as incorrect")
        return False, None, None


def setup_worker() -> None:
    """Prepare a grading process (the zygote, before it forks workers): limits, quiet logs, warm caches."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_WORKER_MEMORY, resource.getrlimit(resource.RLIMIT_AS)[1]))
    except (ImportError, ValueError, OSError):
        pass
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.ERROR)
    mv_parser.parse_latex_cached = lru_cache(maxsize=4096)(mv_parser.parse_latex_cached.__wrapped__)
    for text in _WARMUP:  # builds the LaTeX parser's lazy tables once; forked workers inherit them
        grade_local(text, "$\\frac{1}{2}$", "train", False)
