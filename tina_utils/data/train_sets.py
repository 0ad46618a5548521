"""Tina's training sets in one canonical GRPO schema (the benchmark registry is benchmarks.py).

Canonical training row: `prompt` (system + user messages), `solution` (the gold the accuracy reward parses),
`problem`, `source` (the registry name), `id`, and `target_length` for l1. Gold follows Tina's choices:
bare answers are wrapped in `$...$`; datasets with a `solution` column keep the whole worked solution.
Differences from Tina's loader (all fixes of crashes or silent bad rewards): 2thought reads `messages`
before dropping it, fastcurl and l1 exist, already `$`-delimited answers are not wrapped twice, and rows
whose gold the grader cannot parse are dropped and counted instead of yielding `None` rewards.
Used in: notebooks 01 (data tour) and 02 (training).
"""

import json
import logging
import random

from tina_utils.data import prompts, sources

log = logging.getLogger(__name__)

TINY_DEFAULT_N = 2000  # rows generated for the tiny sets when n is None

# name -> where the rows live and how to read them. `problem`/`gold`/`id` are field paths (sources.lookup);
# `wrap`: the gold is a bare answer to wrap in $...$. Row counts are for the split Tina loads.
TRAIN_DATASETS = {
    "still": dict(hub_id="RUC-AIBOX/STILL-3-Preview-RL-Data", config=None, split="train",
                  problem="question", gold="answer", wrap=True, rows=33_000),
    "deepscaler": dict(hub_id="agentica-org/DeepScaleR-Preview-Dataset", config=None, split="train",
                       problem="problem", gold="answer", wrap=True, rows=40_315),
    # open_rs2/open_rs3 recipes; Tina grades against the whole boxed `solution`, not `answer`.
    "open_rs": dict(hub_id="knoveleng/open-rs", config=None, split="train",
                    problem="problem", gold="solution", wrap=False, rows=7_000),
    # open_rs1 recipe; gets the Open-R1 system prompt (prompts.system_prompt_for).
    "open_s1": dict(hub_id="knoveleng/open-s1", config=None, split="train",
                    problem="problem", gold="solution", wrap=False, rows=18_615),
    "2thought": dict(hub_id="Intelligent-Internet/II-Thought-RL-v0-Math-50K", config=None, split="train",
                     problem="messages.0.content", gold="verification_info.answer.value", wrap=True,
                     rows=53_300),
    "limr": dict(hub_id="GAIR/LIMR", config=None, split="train",
                 problem="prompt", gold="answer", wrap=True, id="id", rows=1_389),
    "open_r1": dict(hub_id="open-r1/OpenR1-Math-220k", config="default", split="train",
                    problem="problem", gold="solution", wrap=False, id="uuid", rows=93_733),
    "thoughts": dict(hub_id="bethgelab/CuratedThoughts", config="OpenThoughts-114k-math-default",
                     split="train", problem="problem", gold="solution", wrap=False, rows=66_100),
    # verl format; the boxed-answer instruction is already part of the problem text. Only the train
    # parquet files are named: the test files disagree on types and can break split building.
    "fastcurl": dict(hub_id="Nickyang/FastCuRL", config=None, split="train",
                     data_files={"train": "train/*.parquet"}, problem="prompt.0.content",
                     gold="reward_model.ground_truth", wrap=True, id="extra_info.index", rows=80_630),
    # DeepScaleR plus a per-row target length appended to the system prompt (l1_exact / l1_max recipes).
    "l1": dict(hub_id="agentica-org/DeepScaleR-Preview-Dataset", config=None, split="train",
               problem="problem", gold="answer", wrap=True, target_length=True, rows=40_315),
    # Offline arithmetic (tina_utils.worlds.tiny.make_problems). "tiny" is the tiny world's default task (digit
    # triples today: the one its warm start, tiny recipe and tiny_eval target); tiny_easy = digit pairs,
    # tiny_hard = digit triples pinned explicitly.
    "tiny": dict(hub_id=None, tiny=True, difficulty=None, split="train", problem="problem", gold="answer",
                 wrap=True, id="id"),
    "tiny_easy": dict(hub_id=None, tiny=True, difficulty="easy", split="train", problem="problem",
                      gold="answer", wrap=True, id="id"),
    "tiny_hard": dict(hub_id=None, tiny=True, difficulty="hard", split="train", problem="problem",
                      gold="answer", wrap=True, id="id"),
}


def dataset_spec(name: str) -> dict:
    """The registry entry for `name`; unknown names raise with the valid ones, closest first."""
    if name not in TRAIN_DATASETS:
        raise sources.unknown_name("training dataset", name, TRAIN_DATASETS)
    return TRAIN_DATASETS[name]


def system_prompt(name: str) -> str:
    """The system prompt Tina used for dataset `name` (the tiny world's own prompt for tiny sets)."""
    spec = dataset_spec(name)
    if spec.get("tiny"):
        from tina_utils.worlds.tiny import TINY_SYSTEM_PROMPT

        return TINY_SYSTEM_PROMPT
    return prompts.system_prompt_for(spec["hub_id"])


def messages(system: str, user: str) -> list[dict]:
    """A chat prompt: the system turn (omitted when empty) and the user turn."""
    head = [{"role": "system", "content": system}] if system else []
    return head + [{"role": "user", "content": user}]


def _features(with_target_length: bool):
    """Explicit features so empty results and every dataset share one schema."""
    from datasets import Features, List, Value

    cols = {"prompt": List({"role": Value("string"), "content": Value("string")}),
            "solution": Value("string"), "problem": Value("string"), "source": Value("string"),
            "id": Value("string")}
    if with_target_length:
        cols["target_length"] = Value("int64")
    return Features(cols)


def _required_columns(spec: dict) -> list[str]:
    """Top-level raw columns the spec reads (the id column is optional)."""
    return list(dict.fromkeys(spec[key].split(".")[0] for key in ("problem", "gold")))


def check_schema(name: str, found) -> None:
    """Raise when the columns `found` lack those dataset `name` reads, naming the registry entries they would fit."""
    spec = dataset_spec(name)
    try:
        sources.check_columns("training dataset", name, found, _required_columns(spec))
    except ValueError as error:
        fits = [k for k, s in TRAIN_DATASETS.items() if set(_required_columns(s)) <= set(found)]
        hint = f" These columns fit: {', '.join(fits)}." if fits else ""
        raise ValueError(str(error) + hint) from None


def _row_id(row: dict, spec: dict, name: str, index: int) -> str:
    """The dataset's own id when it has one, else `<name>-<row index>`."""
    try:
        value = sources.lookup(row, spec["id"]) if spec.get("id") else None
    except (KeyError, IndexError, TypeError):
        value = None
    return sources.as_text(value) or f"{name}-{index}"


def _gold_text(row: dict, path: str) -> str:
    """The raw gold as text; "" (later counted as unparseable) when the row lacks it or its JSON is bad."""
    try:
        return sources.as_text(sources.lookup(row, path))
    except (KeyError, IndexError, TypeError, ValueError):
        return ""


def prompt_lengths(ds, tokenizer) -> list[int]:
    """Token count of each rendered chat prompt (generation prompt included), as the trainer sees it."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("tokenizer has no chat template: set tokenizer.chat_template = "
                         "prompts.REASON_CHAT_TEMPLATE (paper profile) or load tiny.build()'s tokenizer")
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in ds["prompt"]]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []


def prepare_train_dataset(name: str, raw, tokenizer=None, max_prompt_tokens=None, seed: int = 42):
    """Map raw rows in dataset `name`'s Hub schema to canonical GRPO rows (pure: no network).

    Rows whose gold the grader cannot parse are dropped; with `tokenizer` and `max_prompt_tokens`, rows whose
    rendered prompt is longer are dropped too. Counts are printed when non-zero and stored as JSON in the
    result's `info.description` (read them with `prep_stats(ds)`).
    """
    from datasets import Dataset

    spec = dataset_spec(name)
    if max_prompt_tokens is not None and tokenizer is None:
        raise ValueError("max_prompt_tokens needs a tokenizer to count prompt tokens")
    check_schema(name, raw.column_names)
    system = system_prompt(name)
    rng = random.Random(seed)
    id_col = [spec["id"].split(".")[0]] if spec.get("id") and spec["id"].split(".")[0] in raw.column_names else []
    rows, unparseable = [], 0
    for index, row in enumerate(raw.select_columns(_required_columns(spec) + id_col)):
        # Draw before any drop so a row's target length depends only on its position and the seed.
        target = rng.randint(prompts.L1_MIN_TOKENS, prompts.L1_MAX_TOKENS) if spec.get("target_length") else None
        gold = _gold_text(row, spec["gold"])
        solution = sources.wrap_math(gold) if spec["wrap"] else gold
        if not sources.gold_parses(solution):
            unparseable += 1
            continue
        problem = sources.as_text(sources.lookup(row, spec["problem"]))
        sys_text = prompts.with_target_length(system, target) if target is not None else system
        out = {"prompt": messages(sys_text, problem), "solution": solution, "problem": problem,
               "source": name, "id": _row_id(row, spec, name, index)}
        if target is not None:
            out["target_length"] = target
        rows.append(out)
    ds = Dataset.from_list(rows, features=_features(bool(spec.get("target_length"))))
    too_long = 0
    if tokenizer is not None and max_prompt_tokens is not None:
        keep = [i for i, n in enumerate(prompt_lengths(ds, tokenizer)) if n <= max_prompt_tokens]
        too_long = len(ds) - len(keep)
        ds = ds.select(keep)
    stats = {"dataset": name, "rows_in": len(raw), "dropped_unparseable_gold": unparseable,
             "dropped_too_long": too_long, "max_prompt_tokens": max_prompt_tokens, "rows_out": len(ds)}
    _report(stats)
    ds.info.description = json.dumps(stats)
    return ds


def _report(stats: dict) -> None:
    """Show what was dropped (printed, so notebooks and logs both see it)."""
    dropped = []
    if stats["dropped_unparseable_gold"]:
        dropped.append(f"{stats['dropped_unparseable_gold']:,} with gold the grader cannot parse")
    if stats["dropped_too_long"]:
        dropped.append(f"{stats['dropped_too_long']:,} with prompts over {stats['max_prompt_tokens']} tokens")
    if dropped:
        print(f"{stats['dataset']}: kept {stats['rows_out']:,} of {stats['rows_in']:,} rows; dropped "
              + " and ".join(dropped))
    else:
        log.info("%s: kept all %d rows", stats["dataset"], stats["rows_out"])


def prep_stats(ds) -> dict:
    """The drop counts `prepare_train_dataset` stored in `ds.info.description` ({} if none)."""
    try:
        return json.loads(ds.info.description or "{}")
    except json.JSONDecodeError:
        return {}


def load_raw(name: str, split: str = "train", seed: int = 42, n=None, path=None):
    """The raw rows of dataset `name` in its own schema: Hub download, local file (`path=`) or tiny generation.

    `n` caps the rows: a seeded random subset for Hub/local data, `n` generated problems for the tiny sets
    (default TINY_DEFAULT_N). `split` is the Hub split, or "train"/"eval" for tiny.
    """
    from datasets import Dataset

    spec = dataset_spec(name)
    if spec.get("tiny"):
        from tina_utils.worlds import tiny

        level = {"difficulty": spec["difficulty"]} if spec["difficulty"] else {}
        return Dataset.from_list(tiny.make_problems(n or TINY_DEFAULT_N, seed=seed, split=split, **level))
    raw = sources.load_local(path) if path is not None else sources.load_hub(
        spec["hub_id"], spec.get("config"), split, data_files=spec.get("data_files"))
    if n is not None and n < len(raw):
        raw = raw.shuffle(seed=seed).select(range(n))
    return raw


def load_train_dataset(name: str, split: str = "train", seed: int = 42, n=None, path=None, tokenizer=None,
                       max_prompt_tokens=None):
    """`load_raw` then `prepare_train_dataset`: GRPO-ready rows of dataset `name` (see both for arguments)."""
    raw = load_raw(name, split=split, seed=seed, n=n, path=path)
    return prepare_train_dataset(name, raw, tokenizer=tokenizer, max_prompt_tokens=max_prompt_tokens, seed=seed)


def gold_kind(gold: str) -> str:
    """A coarse type of a gold answer for the data tour: integer, decimal, fraction, tuple/list, ..."""
    import re

    text = gold.strip()
    if len(text) >= 2 and text[0] == text[-1] == "$":
        text = text[1:-1].strip()
    if not text:
        return "empty"
    if "\\boxed" in text or len(text) > 80:
        return "worked solution"
    if re.fullmatch(r"-?\d+", text):
        return "integer"
    if re.fullmatch(r"-?\d*\.\d+", text):
        return "decimal"
    if "\\frac" in text or re.fullmatch(r"-?\d+/\d+", text):
        return "fraction"
    if "," in text:
        return "tuple/list"
    if "\\text" in text or re.fullmatch(r"[A-Za-z ]+", text):
        return "text"
    return "expression"


def dataset_summary(dataset: str, profile: str, prepared, stats: dict, tokenizer):
    """(a one-row table: rows kept and dropped, gold types, prompt-token quantiles; the lengths) for notebook 01."""
    import pandas as pd

    lengths = pd.Series(prompt_lengths(prepared, tokenizer), dtype="int64")
    kinds = pd.Series([gold_kind(gold) for gold in prepared["solution"]]).value_counts()
    summary = pd.DataFrame([{
        "dataset": dataset, "profile": profile, "raw_rows": stats["rows_in"], "rows": len(prepared),
        "dropped_unparseable_gold": stats["dropped_unparseable_gold"], "dropped_too_long": stats["dropped_too_long"],
        "gold_parse_share": 1 - stats["dropped_unparseable_gold"] / max(stats["rows_in"], 1),
        "prompt_tokens_p50": lengths.quantile(0.5), "prompt_tokens_p95": lengths.quantile(0.95),
        "prompt_tokens_max": lengths.max(), **{f"gold_{kind}": count for kind, count in kinds.items()}}])
    return summary, lengths
