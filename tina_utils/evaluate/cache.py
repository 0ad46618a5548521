"""The evaluation's generation cache: an append-only JSONL keyed by everything that identifies one completion.

Used in: core.py (evaluate), checkpoint sweeps and the evaluation CLI through it.
"""

import hashlib
import json
from pathlib import Path

from tina_utils import env


class GenerationCache:
    """Append-only JSONL of generations; each line is flushed as soon as its completion exists."""

    def __init__(self, path):
        self.path = Path(path)
        self.records, self.hits, self.misses = {}, 0, 0
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that sample is generated again
                self.records[record["key"]] = record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = None

    def get(self, key: str) -> dict | None:
        return self.records.get(key)

    def put(self, records: list[dict]) -> None:
        if self._file is None:
            self._file = self.path.open("a")
        for record in records:
            self._file.write(json.dumps(record) + "\n")
            self.records[record["key"]] = record
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


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
