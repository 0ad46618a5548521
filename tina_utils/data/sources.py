"""Raw dataset access shared by train_sets.py and benchmarks.py: Hub or local files, field lookup, gold checks."""

import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from tina_utils import env
from tina_utils.data import local_files

if TYPE_CHECKING:
    import datasets

LOCAL_BUILDERS = local_files.BUILDERS
LETTERS = ("A", "B", "C", "D")


def unknown_name(kind: str, name: str, valid) -> ValueError:
    """A ValueError for an unknown registry name, listing every valid name, closest match first."""
    ranked = env.closest_first(name, valid)
    return ValueError(f"unknown {kind} {name!r}; valid names (closest first): {', '.join(ranked)}")


def check_columns(kind: str, name: str, found, expected) -> None:
    """Raise a ValueError naming the columns found and expected when `expected` are not all present."""
    missing = [c for c in expected if c not in found]
    if missing:
        raise ValueError(
            f"{kind} {name!r}: columns {sorted(found)} match no known schema; expected columns "
            f"{list(expected)} (missing {missing}). Pass the dataset in its Hub schema, or pick the "
            f"registry name whose schema it has.")


def lookup(row: dict, path: str):
    """Follow a dotted field path such as "messages.0.content" or "verification_info.answer.value".

    Digits index lists; a JSON string met on the way is decoded (II-Thought stores its gold that way).
    """
    value = row
    for key in path.split("."):
        if isinstance(value, str):
            value = json.loads(value)
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def as_text(value) -> str:
    """Normalise a gold/problem value to str: 27.0 -> "27", ["9.6\\n"] -> "9.6", None -> ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(v) for v in value)
    return str(value).strip()


def wrap_math(answer: str) -> str:
    """Wrap a bare answer in `$...$` as Tina did (left alone when it is already `$`-delimited)."""
    if len(answer) >= 2 and answer.startswith("$") and answer.endswith("$"):
        return answer
    return f"${answer}$"


@lru_cache(maxsize=1 << 16)  # golds repeat a lot (tiny answers, AIME integers); parsing costs ~ms each
def gold_parses(gold: str, profile: str = "train_latex") -> bool:
    """True when the grader can parse `gold` under grading profile `profile` (its gold configs and mode).

    The default "train_latex" (LaTeX only) is the strictest training profile: a gold it parses also parses
    under "train" (accuracy reward), and Tina's cosine/length rewards parse gold this way.
    """
    from math_verify import parse

    from tina_utils.rewards.verifier import PROFILES

    if profile not in PROFILES:
        raise unknown_name("grading profile", profile, PROFILES)
    configs, mode = PROFILES[profile].gold_configs, PROFILES[profile].gold_mode
    # math-verify's timeout uses signal.alarm, which only works in the main thread.
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    return bool(parse(gold, extraction_config=configs, extraction_mode=mode, parsing_timeout=timeout))


def load_local(path, label: str | None = None) -> "datasets.Dataset":
    """Load a local jsonl/json/parquet/arrow/csv file, a folder of such files, or a `save_to_disk` folder.

    A missing, empty, truncated or malformed file raises one error naming it (local_files.check); `label` is how
    the user gave the path (default "local dataset '<path>'").
    """
    import datasets
    import pyarrow

    path = Path(path).expanduser()
    label = label or f"local dataset {str(path)!r}"
    local_files.check(path, label)
    try:
        if path.is_dir() and (path / "dataset_info.json").exists():
            return datasets.load_from_disk(str(path))
        files = local_files.data_files(path, label)
        return datasets.load_dataset(LOCAL_BUILDERS[files[0].suffix], data_files=[str(p) for p in files],
                                     split="train")
    except (datasets.exceptions.DatasetGenerationError, pyarrow.ArrowException) as error:
        why = error.__cause__ or error  # datasets wraps the reader's own message
        raise ValueError(f"{label}: cannot be read ({type(why).__name__}: {' '.join(str(why).split())[:200]}); "
                         f"{local_files.AGAIN}") from error


def has_token() -> bool:
    """True when a Hugging Face token is configured (HF_TOKEN or a saved login)."""
    try:
        from huggingface_hub import get_token

        return bool(get_token())
    except ImportError:
        return bool(os.environ.get("HF_TOKEN"))


def load_hub(hub_id: str, config=None, split: str = "train", data_files=None, gated: bool = False):
    """`datasets.load_dataset` with errors that say what to do when the Hub is unreachable or gated."""
    import datasets

    if gated and not has_token():
        raise PermissionError(
            f"{hub_id} is a gated dataset and no Hugging Face token is set: accept its terms on "
            f"https://huggingface.co/datasets/{hub_id}, then set HF_TOKEN (or run `hf auth login`), "
            f"or pass path= to a local copy.")
    try:
        return datasets.load_dataset(hub_id, name=config, split=split, data_files=data_files)
    except Exception as error:  # noqa: BLE001 - every failure gets the same actionable hint
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
        why = "HF_HUB_OFFLINE=1 is set" if offline else "the Hub download failed"
        raise env.HubUnavailable(
            f"could not load {hub_id} (config={config}, split={split}): {why} "
            f"({type(error).__name__}: {str(error)[:200]}). Download it where there is network and pass "
            f"path= to a local jsonl/parquet/arrow copy, or use the offline tiny profile "
            f"(dataset 'tiny', benchmark 'tiny_eval').") from error
