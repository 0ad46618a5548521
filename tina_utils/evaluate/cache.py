"""The evaluation's generation cache: an append-only JSONL keyed by everything that identifies one completion.

Used in: core.py (evaluate), checkpoint sweeps and the evaluation CLI through it.
"""

import hashlib
import json
from pathlib import Path

from tina_utils import env


class GenerationCache:
    """Append-only JSONL of generations; each line is flushed as soon as its completion exists.

    Under N launched processes each rank appends to its own `<name>.rank<R>` shard (no two writers share a
    file); reading takes the main file and every shard, and `merge_shards` folds the shards into the main file.
    """

    def __init__(self, path, rank: int | None = None):
        self.path = Path(path)
        self.write_path = self.path if rank is None else shard_path(self.path, rank)
        self.records, self.hits, self.misses = {}, 0, 0
        for source in [self.path, *shard_paths(self.path)]:
            self.records.update(read_records(source))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = None

    def get(self, key: str) -> dict | None:
        return self.records.get(key)

    def put(self, records: list[dict]) -> None:
        if self._file is None:
            self._file = open_for_append(self.write_path)
        for record in records:
            self._file.write(json.dumps(record) + "\n")
            self.records[record["key"]] = record
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_records(path: Path) -> dict:
    """{key: record} of a cache file; a line cut short by a kill is skipped (that sample is generated again)."""
    records = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            records[record["key"]] = record
    return records


def open_for_append(path: Path):
    """Open for appending, first ending a line a kill cut short so the next record starts on its own line."""
    cut = False
    if path.exists() and path.stat().st_size:
        with path.open("rb") as tail:
            tail.seek(-1, 2)
            cut = tail.read(1) != b"\n"
    handle = path.open("a")
    if cut:
        handle.write("\n")
    return handle


def shard_path(path: Path, rank: int) -> Path:
    """The file rank `rank` appends to."""
    return path.with_name(f"{path.name}.rank{rank}")


def shard_paths(path: Path) -> list[Path]:
    """Every rank's shard next to the main cache file."""
    return sorted(path.parent.glob(f"{path.name}.rank*"))


def merge_shards(path) -> int:
    """Append the shards' complete records that the main file lacks, then delete the shards; returns how many."""
    path = Path(path)
    known, added = set(read_records(path)), 0
    with open_for_append(path) as out:
        for shard in shard_paths(path):
            for key, record in read_records(shard).items():
                if key not in known:
                    out.write(json.dumps(record) + "\n")
                    known.add(key)
                    added += 1
            out.flush()
            shard.unlink()
    return added


def cache_key(**fields) -> str:
    """Hash of the fields that identify one generation."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:24]


def generation_stack(backend: str) -> dict:
    """Versions of the libraries that produce a completion: an upgrade regenerates instead of reusing old text."""
    names = ("torch", "transformers", "peft", "vllm") if "vllm" in backend else ("torch", "transformers", "peft")
    return {name: version for name, version in env.versions().items() if name in names}


def sample_seed(seed: int, problem_id: str, sample: int) -> int:
    """Per-sample sampling seed, the same on every backend, independent of batch composition."""
    return int(hashlib.sha256(f"{seed}:{problem_id}:{sample}".encode()).hexdigest()[:8], 16)


def adapter_fingerprint(path) -> str:
    """Content hash of an adapter's weights ("" for the base model): a retrained run never hits stale entries."""
    if path is None:
        return ""
    weights = next(Path(path).glob("adapter_model.*"))
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
