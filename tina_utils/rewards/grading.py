"""Answer grading on math-verify, shared by training rewards and evaluation (02_train, 03_evaluate).

Profiles name math-verify settings: "train" is Tina's accuracy reward (gold parsed with math-verify's default
[Latex, Expr] configs in first_match mode, exactly as Tina's code did; prediction: LaTeX only, boxed first,
no anchor-less matches); "train_latex" differs only in parsing gold with LatexExtractionConfig(), as Tina's
cosine/length rewards did; "expr" (AIME/AMC), "latex" (MATH500/Minerva) and "letter" (GPQA) copy the
extraction configs of Tina's lighteval tasks (precision 5).

Differences from calling math-verify inline, as Tina's rewards did (none changes a verdict unless noted):
1. math-verify's timeouts use signal.alarm, which only works in the main thread. We pass
   parsing_timeout=None / timeout_seconds=None and grade in worker processes (grading_pool.py); a worker
   still busy after `timeout` seconds is killed and replaced, and its item grades False (logged). This is
   the one case where a verdict can differ: math-verify's own 5 s limits would have stopped elsewhere.
2. Caches, per worker: parsed gold answers; parsed predictions (by text digest: accuracy, cosine and length
   grade the same completion); verify results keyed on the exact structure (srepr) of the parsed
   prediction; and math-verify's 20-entry cache of parsed LaTeX strings is enlarged. The G samples of a
   prompt share a gold and often an answer, so each is parsed and compared once.
3. On the train profiles, a completion without "\\boxed{" and without the word "answer" is not sent to
   math-verify: none of its patterns can match, so it would extract nothing, and verify(gold, []) is False.
"""

import hashlib
import logging
import os
import re
import time
from functools import lru_cache

from latex2sympy2_extended import NormalizationConfig
from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig, parse, verify
from math_verify import parser as mv_parser
from sympy import Basic, srepr

from tina_utils import env
from tina_utils.rewards import grading_pool

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0  # seconds per item; math-verify's own default limit is 5 s per parse / comparison
MAX_DEFAULT_WORKERS = 8  # each worker holds sympy (~150 MB); grading is rarely the bottleneck beyond this
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

# name -> (gold configs, gold mode, pred configs, pred mode, verify kwargs, anchored-only prediction)
PROFILES = {
    "train": ([LatexExtractionConfig(), ExprExtractionConfig()], "first_match", [_TINA_PRED], "first_match", {},
              True),
    "train_latex": ([LatexExtractionConfig()], "first_match", [_TINA_PRED], "first_match", {}, True),
    "expr": ([ExprExtractionConfig()], "any_match", _EVAL_PRED, "any_match", {"float_rounding": 5}, False),
    "latex": ([LatexExtractionConfig()], "any_match", _EVAL_PRED, "any_match", {"float_rounding": 5}, False),
    "letter": (_LETTERS, "any_match", _LETTERS, "any_match", {}, False),
}
_GOLD_OK: dict = {}  # (gold, profile) -> parseable?, learnt from worker results; feeds the fast path
_PRED_CACHE: dict = {}  # (text digest, pred configs, mode) -> parsed prediction, per process
_VERIFY_CACHE: dict = {}  # (gold, profile, reverse, srepr of prediction) -> verdict, per process
_ANSWER_WORD = re.compile(r"(?i:answer)")  # same flags as math-verify's anchors (unicode case folding)


class _DropEquationsWarning(logging.Filter):
    """Drop latex2sympy's per-call "equations=True is deprecated" warning: Tina's config sets it on purpose."""

    def filter(self, record):
        return "equations=True" not in str(record.msg)


logging.getLogger("latex2sympy2_extended.math_normalization").addFilter(_DropEquationsWarning())


def _check_profile(profile: str) -> None:
    """Raise a ValueError naming the valid profiles."""
    if profile not in PROFILES:
        close = env.closest_first(profile, PROFILES)
        raise ValueError(f"unknown grading profile {profile!r}; valid profiles: {close}")


# ---------------------------------------------------------------- grading itself (runs in a worker)
@lru_cache(maxsize=4096)
def _parse_gold(gold: str, profile: str) -> list:
    """Parsed gold answer (cached: the same gold is graded G times per prompt and again every epoch)."""
    configs, mode = PROFILES[profile][:2]
    return parse(gold, extraction_config=configs, extraction_mode=mode, parsing_timeout=None)


def _parse_pred(text: str, profile: str) -> list:
    """Parsed prediction, memoised by a digest of the text: accuracy, cosine and length grade the same text."""
    configs, mode = PROFILES[profile][2:4]
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
    verdict = bool(verify(*pair, timeout_seconds=None, **PROFILES[profile][4]))
    if key is not None:
        if len(_VERIFY_CACHE) > 50_000:
            _VERIFY_CACHE.clear()
        _VERIFY_CACHE[key] = verdict
    return verdict


def _grade_local(text: str, gold: str | None, profile: str, reverse: bool) -> tuple:
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


def _worker_setup() -> None:
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
        _grade_local(text, "$\\frac{1}{2}$", "train", False)


def shutdown() -> None:
    """Stop the grading worker processes (also done at exit; the next call starts fresh ones)."""
    grading_pool.shutdown()


def _run(tasks: list, workers: int, timeout: float, latencies: list) -> list:
    """Grade tasks on the worker pool; killed items are False (logged)."""
    order = sorted(range(len(tasks)), key=lambda i: (tasks[i][1] or "", tasks[i][2]))  # same gold, same worker
    times = [0.0] * len(tasks)
    results, failed = grading_pool.run([tasks[i] for i in order], workers, timeout, times)
    out = [None] * len(tasks)
    for k, i in enumerate(order):
        out[i], latencies[i] = results[k], times[k]
        if k in failed:
            text, gold, profile, _ = tasks[i]
            out[i] = (False, None, None)
            logger.warning("grading %s; counted as incorrect (profile=%s, gold=%.80r, completion tail=%.200r)",
                           failed[k], profile, gold, text[-200:])
    return out


def _default_workers() -> int:
    """Cores this process may use, capped at MAX_DEFAULT_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_WORKERS, cores))


def _grade_tasks(tasks: list, workers, timeout: float, latencies) -> list:
    """Dedupe, apply the no-candidate fast path, and grade the rest (in-process when workers == 0)."""
    unique = list(dict.fromkeys(tasks))
    results: dict = {}
    todo = []
    for task in unique:
        text, gold, profile, _ = task
        anchored = PROFILES[profile][5]
        if anchored and (gold is None or (gold, profile) in _GOLD_OK) and "\\boxed{" not in text \
                and not _ANSWER_WORD.search(text):
            results[task] = (None if gold is None or not _GOLD_OK[(gold, profile)] else False, None, None)
        else:
            todo.append(task)
    times = [0.0] * len(todo)
    workers = _default_workers() if workers is None else int(workers)
    if workers <= 0:
        done = []
        for k, task in enumerate(todo):
            t0 = time.monotonic()
            done.append(_grade_local(*task))
            times[k] = time.monotonic() - t0
    else:
        done = _run(todo, workers, timeout, times) if todo else []
    for task, result, seconds in zip(todo, done, times):
        results[task] = result
        if result[2] is not None and len(_GOLD_OK) < 100_000:
            _GOLD_OK[(task[1], task[2])] = result[2]
    if latencies is not None:
        lookup = dict(zip(todo, times))
        latencies[:] = [lookup.get(task, 0.0) for task in tasks]
    return [results[task] for task in tasks]


# ---------------------------------------------------------------- public API
def grade_many(pairs, profile: str = "train", workers: int | None = None, timeout: float = DEFAULT_TIMEOUT,
               reverse_verify: bool = False, latencies: list | None = None) -> list:
    """Verdicts (True/False, None = gold unparseable) for (completion, gold) pairs, in parallel workers.

    workers: processes to use (None = available cores, at most 8; 0 = in-process, no time limit).
    timeout: hard limit in seconds per item; a timed-out item is False and logged.
    reverse_verify: call verify(pred, gold) as Tina's cosine/length rewards did (math-verify is asymmetric).
    latencies: if a list is given, it is filled with per-item seconds (0 for fast-path items).
    """
    _check_profile(profile)
    tasks = [(_as_text(text), None if gold is None else str(gold), profile, bool(reverse_verify))
             for text, gold in pairs]
    return [result[0] for result in _grade_tasks(tasks, workers, timeout, latencies)]


def grade(text: str, gold: str, profile: str = "train", timeout: float = DEFAULT_TIMEOUT) -> bool | None:
    """True/False if `text`'s answer matches `gold` under `profile`; None if the gold cannot be parsed."""
    return grade_many([(text, gold)], profile=profile, timeout=timeout)[0]


def extract_answer(text: str, profile: str = "train", timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """The answer string math-verify extracts from `text` under `profile` (None if none)."""
    _check_profile(profile)
    return _grade_tasks([(_as_text(text), None, profile, False)], None, timeout, None)[0][1]


def _as_text(value) -> str:
    """Completion text as str (None -> "")."""
    return "" if value is None else value if isinstance(value, str) else str(value)
