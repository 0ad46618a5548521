"""Grading never loses a batch: a row a grader cannot grade is marked ungradable, counted, and the rest is graded.

Run: pytest tests/test_ungradable.py   (the lighteval test is slow: it needs the side environment)
"""

import sys

import pandas as pd
import pytest

from tina_utils import evaluate as ev
from tina_utils.evaluate import lighteval_grader


def test_an_unparseable_gold_is_ungradable_with_its_reason_and_counted():
    samples = pd.DataFrame([dict(checkpoint="base", benchmark="b", problem_id=str(i), seed=0, sample=0,
                                 profile="letter", gold=gold, completion="Answer: B") for i, gold in
                            enumerate(["B", "not a letter at all", "C"])])
    graded = ev.grade_frame(samples)
    assert graded.correct.tolist() == [True, False, False] and graded.graded.tolist() == [True, False, True]
    assert graded.ungradable.isna().tolist() == [True, False, True]
    assert "cannot parse the gold" in graded.ungradable[1]
    scores = ev.summarize(graded)
    assert scores.n_ungradable.tolist() == [1] and scores.value.iloc[0] == pytest.approx(100 / 3)


def test_rows_a_crashed_side_process_never_answered_come_back_ungradable(tmp_path, monkeypatch):
    script = tmp_path / "side.py"  # answers the first row, then dies as a traceback would
    script.write_text("import json, sys\nsys.stdin.readline()\n"
                      "print(json.dumps({'correct': True, 'extracted': 'A', 'ungradable': None}), flush=True)\n"
                      "raise SystemExit('ValueError: E is not in list')\n")
    monkeypatch.setattr(lighteval_grader, "ensure_side_env", lambda: sys.executable)
    monkeypatch.setattr(lighteval_grader, "SIDE_SCRIPT", script)
    rows = [{"completion": "A", "gold": gold, "profile": "letter"} for gold in ("A", "E", "B")]
    verdicts = lighteval_grader.grade_rows(rows)
    assert [v["correct"] for v in verdicts] == [True, False, False]
    assert verdicts[0]["ungradable"] is None
    assert all("E is not in list" in v["ungradable"] for v in verdicts[1:])


@pytest.mark.slow
def test_a_gpqa_gold_that_is_not_a_letter_does_not_fail_lightevals_batch():
    rows = [{"completion": "\\boxed{C}", "gold": gold, "profile": "letter"} for gold in ("C", "E", "C")]
    verdicts = lighteval_grader.grade_rows(rows)
    assert [v["correct"] for v in verdicts] == [True, False, True]
    assert verdicts[1]["ungradable"].startswith("lighteval cannot grade this row: ValueError")


def test_two_processes_that_need_the_side_environment_at_once_build_it_once(tmp_path, monkeypatch):
    import threading
    import time

    from tina_utils.evaluate import lighteval_grader

    monkeypatch.setenv("TINA_LIGHTEVAL_VENV", str(tmp_path / "side"))
    built = []

    def fake_venv(command, check):  # a slow `python -m venv`: the second caller must wait, then find it ready
        built.append(command[-1])
        time.sleep(0.3)
        (tmp_path / "side" / "bin").mkdir(parents=True)
        (tmp_path / "side" / "bin" / "python").write_text("")

    monkeypatch.setattr(lighteval_grader.subprocess, "run", fake_venv)
    monkeypatch.setattr(lighteval_grader, "_pip", lambda python, *args: None)
    found = []
    callers = [threading.Thread(target=lambda: found.append(lighteval_grader.ensure_side_env(say=lambda _: None)))
               for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert built == [str(tmp_path / "side")] and found == [tmp_path / "side" / "bin" / "python"] * 2
