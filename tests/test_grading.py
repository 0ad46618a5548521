"""Tests for tina_utils.rewards.grading: profiles, gold cache, worker pool, timeouts, threads.
Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_grading.py -q"""

import logging
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tina_utils.rewards import grading, grading_pool, verifier

R1 = "<think>\nLet me compute 3+4+5.\n3+4=7\n7+5=12\n</think>\n\nTherefore, the final answer is $\\boxed{%s}$."


@pytest.mark.parametrize("answer, gold, expected", [
    ("12", "$12$", True),
    ("13", "$12$", False),
    ("\\dfrac{6}{12}", "$\\frac{1}{2}$", True),
    ("0.5", "$\\frac{1}{2}$", True),
    ("2\\sqrt{3}", "$\\sqrt{12}$", True),
    ("\\frac{\\pi}{4}", "$\\frac{\\pi}{3}$", False),
])
def test_train_profile_boxed_answers(answer, gold, expected):
    assert grading.grade(R1 % answer, gold) is expected


def test_train_profile_tina_semantics():
    # the last \boxed wins, unless math-verify joins boxes < 70 chars apart with a separator into a set
    far = "\\boxed{3}" + " then we check it again" * 4 + " \\boxed{12}"
    assert (grading.grade(far, "$12$"), grading.extract_answer(far)) == (True, "12")
    assert grading.extract_answer("\\boxed{3}, or rather \\boxed{12}") == "3,12"
    # no anchor-less matches; malformed boxes extract nothing
    assert grading.grade("<think>\nx\n</think>\nThe result is 12.", "$12$") is False
    assert grading.grade("<think>\nx\n</think>\nThe answer is $12$.", "$12$") is True
    assert grading.grade("<think>\nx\n</think>\n\\boxed{12", "$12$") is False
    assert grading.grade("", "$12$") is False


def test_unparseable_gold_is_none():
    assert grading.grade(R1 % "12", "no math here") is None
    assert grading.grade("plain text without a box", "no math here") is None


def test_extract_answer():
    assert grading.extract_answer(R1 % "\\dfrac{1}{2}") == "\\frac{1}{2}"
    assert grading.extract_answer("no answer at all") is None
    assert grading.extract_answer("Answer: C", profile="letter") == "C"


def test_expr_profile_aime_integer():
    text = "<think>\n...\n</think>\nTherefore, the final answer is: $\\boxed{204}$. I hope it is correct"
    assert grading.grade(text, "204", profile="expr") is True
    assert grading.grade(text, "205", profile="expr") is False
    assert grading.grade("so the answer is 204.", "204", profile="expr") is True  # no box needed at eval


def test_latex_profile_math500_fraction():
    gold = "Adding the two parts gives $\\frac{7}{3} + \\frac{7}{3} = \\boxed{\\frac{14}{3}}$."
    text = "<think>\n...\n</think>\nTherefore, the final answer is: $\\boxed{\\dfrac{14}{3}}$. I hope it is right"
    assert grading.grade(text, gold, profile="latex") is True
    assert grading.grade(text.replace("14", "13"), gold, profile="latex") is False


def test_letter_profile_gpqa():
    text = "<think>\nThe compound is an ester, so option C.\n</think>\n\nAnswer: C"
    assert grading.grade(text, "C", profile="letter") is True
    assert grading.grade(text, "B", profile="letter") is False


def test_unknown_profile_names_the_valid_ones():
    with pytest.raises(ValueError, match="latex"):
        grading.grade("x", "$1$", profile="latexx")


def test_reverse_verify_is_tinas_argument_order():
    # math-verify is asymmetric: an interval prediction matches an inequality gold only as verify(gold, pred)
    pairs = [("\\boxed{(1,2)}", "$1<x<2$")]
    assert grading.grade_many(pairs, profile="train_latex") == [True]
    assert grading.grade_many(pairs, profile="train_latex", reverse_verify=True) == [False]


def test_gold_is_parsed_once_per_gold():
    verifier._parse_gold.cache_clear()
    grading.grade_many([(R1 % n, "$12$") for n in range(8)], workers=0)
    info = verifier._parse_gold.cache_info()
    assert (info.misses, info.hits) == (1, 7)


PAIRS = [(R1 % a, g) for a, g in [("12", "$12$"), ("13", "$12$"), ("\\frac{1}{2}", "$0.5$"), ("x", "$1$"),
                                  ("1", "not math"), ("(1,2)", "$1<x<2$")]] + [("no box", "$3$"), ("", "$1$")]
EXPECTED = [True, False, True, False, None, True, False, False]


def test_grade_many_matches_grade_and_in_process():
    assert grading.grade_many(PAIRS) == EXPECTED
    assert [grading.grade(t, g) for t, g in PAIRS] == EXPECTED
    assert grading.grade_many(PAIRS, workers=1) == EXPECTED
    assert grading.grade_many(PAIRS, workers=0) == EXPECTED


def test_thread_pool_gives_main_thread_verdicts():
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda pair: grading.grade(*pair), PAIRS)) == EXPECTED
        assert pool.submit(grading.grade_many, PAIRS).result() == EXPECTED


def test_latencies_are_reported_per_item():
    latencies = []
    grading.grade_many(PAIRS, latencies=latencies)
    assert len(latencies) == len(PAIRS) and all(t >= 0 for t in latencies)


def test_timeout_counts_as_incorrect_and_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="tina_utils.rewards.grading"):
        assert grading.grade("\\boxed{9^{9^{9^{9}}}}", "$12$", timeout=1) is False
    assert "timed out" in caplog.text
    assert grading.grade(R1 % "12", "$12$") is True  # the pool recovered


def test_dead_worker_is_replaced():
    grading.grade_many(PAIRS, workers=2)
    worker = grading_pool._STATE["workers"][0]
    os.kill(worker.pid, signal.SIGKILL)
    worker.conn.poll(10)  # its socket turns readable (EOF) once it is gone
    assert grading.grade_many(PAIRS, workers=2) == EXPECTED


def test_no_hang_at_interpreter_exit():
    code = ("import threading; from tina_utils.rewards import grading; out = [];"
            "pairs = [('\\\\boxed{1}', '$1$')];"
            "t = threading.Thread(target=lambda: out.append(grading.grade_many(pairs, workers=1)));"
            "t.start(); t.join(); print(out)")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[[True]]"
