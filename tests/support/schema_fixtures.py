"""Synthetic files in the real Hub schema of every training set and benchmark (registries in tina_utils/data/),
for offline runs.

Problems are generated here (no real dataset row is copied); golds are realistic: worked LaTeX solutions ending
in `\\boxed{}`, fractions, tuples, radicals, zero-padded AIME integers, AMC floats, GPQA option texts.

    python tests/schema_fixtures.py DIR      # writes DIR/train/<dataset>.<ext> and DIR/bench/<benchmark>.<ext>
"""

import json
import random
import sys
import uuid
from fractions import Fraction
from pathlib import Path


def _fraction_sum(rng):
    a, b, c, d = rng.randint(1, 9), rng.randint(2, 9), rng.randint(1, 9), rng.randint(2, 9)
    total = Fraction(a, b) + Fraction(c, d)
    answer = str(total.numerator) if total.denominator == 1 else f"\\frac{{{total.numerator}}}{{{total.denominator}}}"
    problem = f"Compute $\\frac{{{a}}}{{{b}}} + \\frac{{{c}}}{{{d}}}$ and express the result in lowest terms."
    steps = f"With the common denominator ${b * d}$ the sum is $\\frac{{{a * d + c * b}}}{{{b * d}}}$, which reduces"
    return problem, steps, answer


def _pair(rng):
    x, y = rng.randint(-9, 9), rng.randint(-9, 9)
    problem = f"Find the ordered pair $(x, y)$ with $x + y = {x + y}$ and $x - y = {x - y}$."
    steps = f"Adding the equations gives $2x = {2 * x}$, so $x = {x}$ and $y = {x + y} - {x} = {y}$"
    return problem, steps, f"({x}, {y})"


def _remainder(rng):
    n, m = rng.randint(100, 999), rng.randint(3, 13)
    problem = f"What is the remainder when ${n}$ is divided by ${m}$?"
    return problem, f"Since ${n} = {m} \\cdot {n // m} + {n % m}$, the remainder is", str(n % m)


def _radical(rng):
    a, b = rng.randint(2, 6), rng.choice([2, 3, 5, 6, 7])
    problem = f"Simplify $\\sqrt{{{a * a * b}}}$."
    return problem, f"Since ${a * a * b} = {a}^2 \\cdot {b}$, we get $\\sqrt{{{a * a * b}}} =$", f"{a}\\sqrt{{{b}}}"


def _divisors(rng):
    n = rng.randint(12, 200)
    count = sum(1 for k in range(1, n + 1) if n % k == 0)
    return f"How many positive divisors does ${n}$ have?", f"Listing the divisors of ${n}$ gives", str(count)


KINDS = [_fraction_sum, _pair, _remainder, _radical, _divisors]


def problems(n: int, seed: int = 0) -> list[dict]:
    """`n` problems with a bare `answer` and a worked `solution` ending in `\\boxed{answer}`."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        problem, steps, answer = KINDS[i % len(KINDS)](rng)
        out.append({"problem": problem, "answer": answer,
                    "solution": f"{steps} $\\boxed{{{answer}}}$." if i % 2 else
                                f"{steps}:\n\\[\n\\boxed{{{answer}}}\n\\]"})
    return out


def _chat(user, assistant=None):
    turns = [{"role": "user", "content": user}]
    return turns + ([{"role": "assistant", "content": assistant}] if assistant is not None else [])


def train_rows(name: str, n: int = 16, seed: int = 0) -> list[dict]:
    """Rows of training set `name` (tina_utils.data.TRAIN_DATASETS) in its Hub schema."""
    rows = []
    for i, p in enumerate(problems(n, seed)):
        q, a, s = p["problem"], p["answer"], p["solution"]
        uid = str(uuid.UUID(int=random.Random(f"{name}{i}").getrandbits(128)))
        rows.append({
            "still": lambda: {"question": q, "answer": a, "messages": _chat(q, a)},
            "deepscaler": lambda: {"problem": q, "answer": a, "solution": s if i % 7 else ""},
            "l1": lambda: {"problem": q, "answer": a, "solution": s},
            "open_rs": lambda: {"problem": q, "solution": s, "answer": a, "level": ["Easy", "Hard"][i % 2]},
            "open_s1": lambda: {"problem": q, "solution": s, "answer": a, "source": "AI-MO/NuminaMath-CoT/olympiads",
                                "messages": _chat(q, s)},
            "2thought": lambda: {"messages": _chat(q), "verification_info": json.dumps(
                {"type": "math_verifiable", "answer": {"value": a}})},
            "limr": lambda: {"prompt": q, "answer": a, "id": uid, "source": "math"},
            "open_r1": lambda: {"problem": q, "solution": "## Solution.\n\n" + s, "answer": a,
                                "problem_type": "Algebra", "question_type": "math-word-problem",
                                "source": "olympiads", "uuid": uid, "is_reasoning_complete": [True, False],
                                "generations": [f"<think>\n{s}\n</think>\n{s}", "<think>\nunfinished"],
                                "correctness_math_verify": [True, False], "correctness_llama": [True, False],
                                "finish_reasons": ["stop", "length"], "correctness_count": 1,
                                "messages": _chat(q, s)},
            "thoughts": lambda: {"source": "math", "problem": q, "solution": s, "system": "Think step by step.",
                                 "messages": _chat(q, s), "conversations": [{"from": "user", "value": q},
                                                                          {"from": "assistant", "value": s}],
                                 "generated_token_count": 400 + i, "correct": True},
            "fastcurl": lambda: {"data_source": "", "ability": "math", "prompt": _chat(
                q + " Let's think step by step and output the final answer within \\boxed{}."),
                "reward_model": {"ground_truth": a, "style": "rule"}, "extra_info": {"index": i, "split": "train"}},
        }[name]())
    return rows


def _gpqa_row(i: int, rng) -> dict:
    """A synthetic four-option science question in GPQA's CSV columns."""
    base = rng.randint(2, 40)
    options = [f"{base * k} J" for k in (1, 2, 3, 4)]
    return {"Question": f"A body gains {base} J of energy per second. How much energy does it gain in 1 s, "
                        f"2 s or more? Pick the amount for 1 s.", "Correct Answer": f" {options[0]}",
            "Incorrect Answer 1": options[1], "Incorrect Answer 2": options[2], "Incorrect Answer 3": options[3],
            "Explanation": "Energy per second times time.", "Subdomain": "Physics (general)",
            "High-level domain": "Physics", "Record ID": f"rec{i:05d}"}


def benchmark_rows(name: str, n: int = 6, seed: int = 0) -> list[dict]:
    """Rows of benchmark `name` (tina_utils.data.BENCHMARKS) in its Hub schema."""
    rng = random.Random(f"{name}{seed}")
    rows = []
    for i, p in enumerate(problems(n, seed + 1)):
        q, a, s = p["problem"], p["answer"], p["solution"]
        integer = str(rng.randint(0, 999))
        rows.append({
            "aime24": lambda: {"id": 60 + i, "problem": q, "solution": s, "answer": integer,
                               "url": "https://example.org/aime", "year": "2024"},
            "aime25": lambda: {"problem": q, "answer": integer.zfill(3), "id": str(i), "solution": s,
                               "url": "https://example.org/aime", "year": "2025"},
            "amc23": lambda: {"id": i, "problem": q, "answer": float(rng.randint(-5, 999)),
                              "url": "https://example.org/amc", "question": q},
            "math_500": lambda: {"problem": q, "solution": s, "answer": a, "subject": "Algebra",
                                 "level": 1 + i % 5, "unique_id": f"test/algebra/{100 + i}.json"},
            "minerva": lambda: {"problem": q, "solution": s, "type": "Introduction to Astronomy", "idx": i},
            "gpqa_diamond": lambda: _gpqa_row(i, rng),
            "olympiadbench": lambda: {"question": q, "answer": f"${a}$", "solution": [s], "final_answer": [f"${a}$"],
                                      "id": 1600 + i, "subfield": "Algebra", "context": None, "unit": None,
                                      "answer_type": "Numerical", "error": None, "is_multiple_answer": False},
        }[name]())
    return rows


TRAIN_FORMATS = {"open_r1": "parquet", "fastcurl": "parquet"}  # the rest as jsonl
BENCHMARK_FORMATS = {"gpqa_diamond": "csv", "math_500": "parquet"}


def _write(rows: list[dict], path: Path) -> Path:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def write_train_file(name: str, folder, n: int = 16) -> Path:
    """Training set `name` as a local file in its schema."""
    return _write(train_rows(name, n), Path(folder) / f"{name}.{TRAIN_FORMATS.get(name, 'jsonl')}")


def write_benchmark_file(name: str, folder, n: int = 6) -> Path:
    """Benchmark `name` as a local file in its schema."""
    return _write(benchmark_rows(name, n), Path(folder) / f"{name}.{BENCHMARK_FORMATS.get(name, 'jsonl')}")


TRAIN_SETS = ["still", "deepscaler", "open_rs", "open_s1", "2thought", "limr", "open_r1", "thoughts", "fastcurl", "l1"]
BENCHMARKS = ["aime24", "aime25", "amc23", "math_500", "minerva", "gpqa_diamond", "olympiadbench"]


def write_all(folder) -> dict:
    """Every training set and benchmark under `folder`/train and `folder`/bench: {name: path}."""
    folder = Path(folder)
    files = {name: write_train_file(name, folder / "train") for name in TRAIN_SETS}
    return {**files, **{name: write_benchmark_file(name, folder / "bench") for name in BENCHMARKS}}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python tests/schema_fixtures.py DIR")
    for key, written in write_all(sys.argv[1]).items():
        print(f"{key:14} {written}")
