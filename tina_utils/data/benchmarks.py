"""The paper's six eval benchmarks (+ OlympiadBench and the offline tiny_eval) as canonical prompt/gold rows.

Canonical row: `id`, `problem`, `prompt` (the user turn with the paper's eval template; eval uses no system
prompt), `gold` (str), `benchmark`, `profile` (the tina_utils.rewards.grading profile that scores it).
Gold fields and templates follow Tina's lighteval custom tasks. Exported by tina_utils.data.
Used in: notebooks 01 (overview) and 03 (evaluation).
"""

import json
import random
import re

from tina_utils.data import prompts, sources

TINY_EVAL_DEFAULT_N = 200  # held-out tiny problems when n is None

# name -> Hub location, fields, grading profile ("expr": AIME/AMC, "latex": MATH-500/Minerva/OlympiadBench,
# "letter": GPQA) and template ("math"/"gpqa"/"tiny"). `rows`: expected size of the evaluated split.
BENCHMARKS = {
    "aime24": dict(hub_id="HuggingFaceH4/aime_2024", config="default", split="train", problem="problem",
                   gold="answer", id="id", profile="expr", template="math", rows=30, paper=True),
    "aime25": dict(hub_id="yentinglin/aime_2025", config="default", split="train", problem="problem",
                   gold="answer", id="id", profile="expr", template="math", rows=30, paper=True),
    # `answer` is float64 there (27.0); it becomes "27".
    "amc23": dict(hub_id="knoveleng/AMC-23", config="default", split="train", problem="problem",
                  gold="answer", id="id", profile="expr", template="math", rows=40, paper=True),
    # Tina grades MATH-500 and Minerva against the boxed answer inside the worked `solution`.
    "math_500": dict(hub_id="HuggingFaceH4/MATH-500", config="default", split="test", problem="problem",
                     gold="solution", id="unique_id", profile="latex", template="math", rows=500, paper=True),
    "minerva": dict(hub_id="knoveleng/Minerva-Math", config="default", split="train", problem="problem",
                    gold="solution", id="idx", profile="latex", template="math", rows=272, paper=True),
    # Gated. Gold is the letter of `Correct Answer` after a seeded shuffle of the four options.
    "gpqa_diamond": dict(hub_id="Idavidrein/gpqa", config="gpqa_diamond", split="train", problem="Question",
                         gold="Correct Answer", id="Record ID", profile="letter", template="gpqa", rows=198,
                         paper=True, gated=True),
    # Extra (not in the paper's tables); the prompt column is `question`.
    "olympiadbench": dict(hub_id="knoveleng/OlympiadBench", config="default", split="train", problem="question",
                          gold="answer", id="id", profile="latex", template="math", rows=675, paper=False),
    # Offline: held-out tiny arithmetic (tina_utils.worlds.tiny.make_problems(split="eval")), bare integer gold.
    "tiny_eval": dict(hub_id=None, config=None, split="eval", problem="problem", gold="answer", id="id",
                      profile="expr", template="tiny", rows=None, paper=False),
}
# Validation splits, disjoint from the test benchmarks, for choosing a checkpoint without looking at the tests
# (docs/statistics.md). `years`: keep rows whose `url` names one of them. The aimo-validation sets hold AIME 2022-2024
# and AMC 12 2022-2023: AIME 2024 is AIME24 itself and AMC23 is drawn from 2023, so those years are left out.
# tiny_val: held-out tiny problems (the eval pool, never trained on) less those the sweep scores as tiny_eval.
VALIDATION = {
    "aime_val": dict(hub_id="AI-MO/aimo-validation-aime", config="default", split="train", problem="problem",
                     gold="answer", id="id", profile="expr", template="math", rows=60, paper=False,
                     years=("2022", "2023")),
    "amc_val": dict(hub_id="AI-MO/aimo-validation-amc", config="default", split="train", problem="problem",
                    gold="answer", id="id", profile="expr", template="math", rows=None, paper=False, years=("2022",)),
    "tiny_val": dict(hub_id=None, config=None, split="eval", problem="problem", gold="answer", id="id",
                     profile="expr", template="tiny", rows=None, paper=False),
}
PAPER_VALIDATION = ("aime_val", "amc_val")
# The six benchmarks of the paper's tables, in their column order.
PAPER_BENCHMARKS = ("aime24", "aime25", "amc23", "math_500", "gpqa_diamond", "minerva")
GPQA_WRONG = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def benchmark_spec(name: str) -> dict:
    """The registry entry for `name`; unknown names raise with the valid ones, closest first."""
    if name not in BENCHMARKS and name not in VALIDATION:
        raise sources.unknown_name("benchmark", name, {**BENCHMARKS, **VALIDATION})
    return BENCHMARKS.get(name) or VALIDATION[name]


def is_validation(name: str) -> bool:
    """True for a validation split (VALIDATION), False for a test benchmark."""
    return name in VALIDATION


def shuffle_choices(correct: str, wrong: list[str], rng: random.Random) -> tuple[list[str], str]:
    """Insert `correct` among the stripped `wrong` options at rng.randint(0, 3); return (options, letter).

    Same scheme as Tina/lighteval, but with a seeded RNG: theirs was unseeded, so the option order (and
    hence the GPQA score) changed between runs.
    """
    options = [w.strip() for w in wrong]
    index = rng.randint(0, 3)
    options.insert(index, correct.strip())
    return options, sources.LETTERS[index]


def _gold(spec: dict, row: dict) -> str:
    """The gold as the grader expects it; bare LaTeX answers get `$...$` so LaTeX extraction finds them."""
    gold = sources.as_text(sources.lookup(row, spec["gold"]))
    if spec["profile"] == "latex" and "$" not in gold and "\\boxed" not in gold:
        gold = sources.wrap_math(gold)  # OlympiadBench answers may be bare: "2" alone does not parse as LaTeX
    return gold


def _tiny_raw(n, seed: int):
    """Held-out tiny problems in their raw schema (id, problem, answer)."""
    from datasets import Dataset

    from tina_utils.worlds import tiny

    return Dataset.from_list(tiny.make_problems(n or TINY_EVAL_DEFAULT_N, seed=seed, split="eval"))


def _features():
    """One schema for every benchmark."""
    from datasets import Features, List, Value

    return Features({"id": Value("string"), "problem": Value("string"),
                     "prompt": List({"role": Value("string"), "content": Value("string")}),
                     "gold": Value("string"), "benchmark": Value("string"), "profile": Value("string")})


def prepare_benchmark(name: str, raw, seed: int = 1234):
    """Map raw rows in benchmark `name`'s Hub schema to canonical eval rows (pure: no network).

    Rows are never dropped (that would change the denominator); golds the grader cannot parse are counted,
    printed and stored in `info.description`.
    """
    from datasets import Dataset

    spec = benchmark_spec(name)
    expected = [spec["problem"], spec["gold"], *(GPQA_WRONG if spec["template"] == "gpqa" else ())]
    sources.check_columns("benchmark", name, raw.column_names, expected)
    rng = random.Random(seed)
    system = ""
    if spec["template"] == "tiny":
        from tina_utils.worlds.tiny import TINY_SYSTEM_PROMPT as system
    rows = []
    for index, row in enumerate(raw):
        problem = sources.as_text(row[spec["problem"]])
        if spec["template"] == "gpqa":
            options, gold = shuffle_choices(row[spec["gold"]], [row[c] for c in GPQA_WRONG], rng)
            user = prompts.gpqa_eval_prompt(problem, options)
        else:
            gold = _gold(spec, row)
            user = prompts.math_eval_prompt(problem) if spec["template"] == "math" else problem
        head = [{"role": "system", "content": system}] if system else []
        rows.append({"id": sources.as_text(row.get(spec["id"])) or f"{name}-{index}", "problem": problem,
                     "prompt": head + [{"role": "user", "content": user}], "gold": gold, "benchmark": name,
                     "profile": spec["profile"]})
    ds = Dataset.from_list(rows, features=_features())
    bad = sum(not sources.gold_parses(g, spec["profile"]) for g in ds["gold"])
    if bad:
        print(f"{name}: {bad} of {len(ds)} gold answers do not parse under profile {spec['profile']!r}")
    ds.info.description = json.dumps({"benchmark": name, "rows": len(ds), "unparseable_gold": bad,
                                      "choice_seed": seed if spec["template"] == "gpqa" else None})
    return ds


def load_benchmark(name: str, n=None, seed: int = 1234, path=None):
    """Canonical rows of benchmark `name`: from the Hub, from a local file (`path=`), or generated (tiny_eval).

    `n` keeps the first n rows (benchmark order). `seed` fixes the GPQA option shuffle, and for tiny_eval
    which held-out problems are drawn.
    """
    spec = benchmark_spec(name)
    if spec["template"] == "tiny":
        return prepare_benchmark(name, _tiny_raw(n, seed), seed=seed)
    raw = sources.load_local(path) if path is not None else sources.load_hub(
        spec["hub_id"], spec["config"], spec["split"], gated=spec.get("gated", False))
    if n is not None and n < len(raw):
        raw = raw.select(range(n))
    return prepare_benchmark(name, raw, seed=seed)


def _same_problem(text: str) -> str:
    """A problem's text for overlap checks: lower case, words only."""
    return " ".join(re.findall(r"\w+", text.lower()))


def _validation_raw(name: str, spec: dict, path, seed: int):
    """Raw rows of a validation split: the tiny eval pool in a seeded order, or a Hub/local file kept to `years`."""
    if spec["template"] == "tiny":
        from datasets import Dataset

        from tina_utils.worlds import tiny

        return Dataset.from_list(tiny.make_problems(tiny.pool_size("eval"), seed=f"validation-{seed}", split="eval"))
    raw = sources.load_local(path) if path is not None else sources.load_hub(spec["hub_id"], spec["config"],
                                                                              spec["split"])
    if spec.get("years"):
        sources.check_columns("validation split", name, raw.column_names, [spec["problem"], spec["gold"], "url"])
        raw = raw.filter(lambda row: any(year in str(row["url"]) for year in spec["years"]))
    return raw


def load_validation(name: str, n=None, seed: int = 1234, path=None, exclude=()) -> list[dict]:
    """Canonical rows of validation split `name`, less any problem whose text is in `exclude` (the test problems).

    `n` keeps the first n rows left; a split with none left is an error.
    """
    if name not in VALIDATION:
        raise sources.unknown_name("validation split", name, VALIDATION)
    rows = prepare_benchmark(name, _validation_raw(name, VALIDATION[name], path, seed), seed=seed).to_list()
    tests = {_same_problem(text) for text in exclude}
    kept = [row for row in rows if _same_problem(row["problem"]) not in tests][:n]
    if not kept:
        raise ValueError(f"validation split {name}: no problem is left once the {len(tests)} test problems are "
                         f"removed; evaluate fewer test problems or choose another split")
    return kept
