"""Where every scored row came from: device, library versions, processes, commit and a hash of the problems.

A generation records its machine in the cache (`provenance` of each generations.jsonl line), since a cached
completion may come from another machine than the one grading it; grading adds the grader's version and the
benchmark's hash. Each sample gets a `provenance` id into provenance.csv; scores.csv spells the columns out.
Used in: core.evaluate, scoring.summarize, checkpoint_sweep (provenance.csv, figures). docs/contracts.md.
"""

import hashlib
import json
from importlib import metadata

import pandas as pd

from tina_utils import env

COLUMNS = ["device", "versions", "n_processes", "commit", "data_sha256"]
GENERATION_PACKAGES = ("torch", "transformers", "peft", "trl", "vllm")
UNKNOWN = "unknown (generated before provenance was recorded)"


def _version(name: str) -> str:
    """Installed version of a package, or 'none'."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "none"


def generation_record() -> dict:
    """This machine as it generates: device, generation stack, launched processes, commit."""
    return {"device": env.hardware(), "versions": " ".join(f"{n}={_version(n)}" for n in GENERATION_PACKAGES),
            "n_processes": env.world_size(), "commit": env.git_sha() or "none"}


def grader_versions(grader: str) -> str:
    """The grading libraries' versions: math-verify always (it extracts), lighteval 0.8.1 when it decides."""
    from tina_utils.evaluate.lighteval_grader import PINS

    lighteval = next(p.split("==")[1] for p in PINS if p.startswith("lighteval")) if grader == "lighteval" else ""
    return f"math-verify={_version('math-verify')}" + (f" lighteval={lighteval}" if lighteval else "")


def rows_sha256(rows: list[dict]) -> dict:
    """{benchmark: SHA-256 of its problems as evaluated (id, prompt, gold, in order)}, 16 hex digits."""
    by_benchmark: dict = {}
    for row in rows:
        by_benchmark.setdefault(row["benchmark"], []).append([row["id"], row["prompt"], row["gold"]])
    return {name: hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:16]
            for name, items in by_benchmark.items()}


def record_id(values) -> str:
    """A 12-hex id of one provenance record (the values of COLUMNS)."""
    return hashlib.sha256(json.dumps([str(v) for v in values]).encode()).hexdigest()[:12]


def from_cache(record: dict) -> dict:
    """The generation provenance stored with a cached completion (unknown for older caches)."""
    found = record.get("provenance") or {}
    return {key: found.get(key, UNKNOWN if key == "device" else "unknown")
            for key in ("device", "versions", "n_processes", "commit")}


def stamp(samples: pd.DataFrame, grader: str, data_sha256: dict) -> pd.DataFrame:
    """Add the grader's versions and the benchmark hash to each sample, then its `provenance` id."""
    samples = samples.copy()
    samples["versions"] = samples["versions"].astype(str) + " " + grader_versions(grader)
    samples["data_sha256"] = samples["benchmark"].map(data_sha256).fillna("unknown")
    unique = samples[COLUMNS].astype(str).drop_duplicates()
    ids = {tuple(row): record_id(row) for row in unique.itertuples(index=False)}
    samples["provenance"] = [ids[tuple(row)] for row in samples[COLUMNS].astype(str).itertuples(index=False)]
    return samples


def table(samples: pd.DataFrame) -> pd.DataFrame:
    """provenance.csv: one row per provenance id with its columns."""
    return samples[["provenance", *COLUMNS]].drop_duplicates("provenance").reset_index(drop=True)


def summarize(part: pd.DataFrame) -> dict:
    """The provenance columns of a scored row: each value, or the distinct values joined by ' | ' when mixed."""
    out = {column: " | ".join(dict.fromkeys(part[column].astype(str))) for column in COLUMNS}
    out["provenance"] = "+".join(dict.fromkeys(part["provenance"]))
    return out


def mixed_note(scores: pd.DataFrame) -> str:
    """'' when every row shares one machine, stack, commit and (per benchmark) data; else what differs."""
    def differs(values: pd.Series) -> bool:
        values = values.astype(str)
        return values.nunique() > 1 or values.str.contains(" | ", regex=False).any()

    differ = [c for c in COLUMNS[:-1] if c in scores and differs(scores[c])]
    if "data_sha256" in scores and any(differs(v) for _, v in scores.groupby("benchmark")["data_sha256"]):
        differ.append("data_sha256")
    return f"mixed provenance: the rows differ in {', '.join(differ)}" if differ else ""
