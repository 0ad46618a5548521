"""Answer grading on math-verify, shared by training rewards and evaluation (02_train, 03_evaluate).

The grading profiles and the grader itself (parsing, verification, caches) are in verifier.py; this module
runs it on many items at once, with a hard time limit per item. Profiles: "train", "train_latex" (Tina's
rewards), "expr", "latex", "letter" (Tina's lighteval tasks).

Differences from calling math-verify inline, as Tina's rewards did (none changes a verdict unless noted):
1. math-verify's timeouts use signal.alarm, which only works in the main thread. We pass
   parsing_timeout=None / timeout_seconds=None and grade in worker processes (grading_pool.py); a worker
   still busy after `timeout` seconds is killed and replaced, and its item grades False (logged). This is
   the one case where a verdict can differ: math-verify's own 5 s limits would have stopped elsewhere.
2. Caches, per worker (verifier.py): parsed gold answers, parsed predictions and verify results, so the G
   samples of a prompt, which share a gold and often an answer, are each parsed and compared once.
3. On the train profiles, a completion without "\\boxed{" and without the word "answer" is not sent to
   math-verify: none of its patterns can match, so it would extract nothing, and verify(gold, []) is False.
"""

import logging
import os
import re
import time

from tina_utils import env
from tina_utils.rewards import grading_pool
from tina_utils.rewards.verifier import PROFILES, grade_local

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0  # seconds per item; math-verify's own default limit is 5 s per parse / comparison
MAX_DEFAULT_WORKERS = 8  # each worker holds sympy (~150 MB); grading is rarely the bottleneck beyond this
_GOLD_OK: dict = {}  # (gold, profile) -> parseable?, learnt from worker results; feeds the fast path
_ANSWER_WORD = re.compile(r"(?i:answer)")  # same flags as math-verify's anchors (unicode case folding)


def _check_profile(profile: str) -> None:
    """Raise a ValueError naming the valid profiles."""
    if profile not in PROFILES:
        close = env.closest_first(profile, PROFILES)
        raise ValueError(f"unknown grading profile {profile!r}; valid profiles: {close}")


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
        anchored = PROFILES[profile].anchored_only
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
            done.append(grade_local(*task))
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
