"""Local data files read before anything runs: an empty, truncated or malformed file is one clear error.

`check(path, label)` raises a ValueError (FileNotFoundError when missing) that names the file, the line or the
problem, and what to do; `label` is how the user gave the file (e.g. "--data aime24=aime24.jsonl"). It is what
sources.load_local runs first, and what the train, evaluate and pipeline command lines run before they create
any folder. Readable formats: jsonl/json (JSON Lines or one JSON array), csv, parquet, arrow, and folders of
one of them or written by `save_to_disk`.
"""

import csv
import json
from functools import lru_cache
from pathlib import Path

from tina_utils import env

BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".arrow": "arrow", ".csv": "csv"}
AGAIN = "download or export it again"
CUT_SHORT = f"the file looks cut short (an interrupted download or export?); {AGAIN}"


def data_files(path: Path, label: str) -> list[Path]:
    """The files a local dataset path stands for (a file, or a folder's files of one type)."""
    files = sorted(p for p in path.iterdir() if p.suffix in BUILDERS) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{label}: the folder holds no {'/'.join(sorted(BUILDERS))} file and is no save_to_disk "
                         f"folder; pass a data file or a folder of them")
    unknown = sorted({p.suffix for p in files} - set(BUILDERS))
    if unknown:
        ranked = ", ".join(env.closest_first(unknown[0], BUILDERS))
        raise ValueError(f"{label}: unknown file type {unknown[0] or '(no extension)'!r}; valid types (closest "
                         f"first): {ranked}, or a save_to_disk folder")
    if len({BUILDERS[p.suffix] for p in files}) > 1:
        raise ValueError(f"{label}: the folder mixes file types ({', '.join(sorted({p.suffix for p in files}))}); "
                         f"keep one type per folder")
    return files


def check(path, label: str | None = None) -> None:
    """Raise an error naming the file, the problem and the fix unless `path` can be loaded as a dataset."""
    path = Path(path).expanduser()
    label = label or f"local dataset {str(path)!r}"
    if not path.exists():
        raise FileNotFoundError(f"{label}: the file does not exist")
    if path.is_dir() and (path / "dataset_info.json").exists():
        return  # a save_to_disk folder: datasets checks its own files
    for file in data_files(path, label):
        stat = file.stat()
        problem = _problem(str(file.resolve()), stat.st_size, stat.st_mtime_ns)
        if problem:
            where = label if file == path else f"{label}: {file.name}"
            raise ValueError(f"{where}: {problem}")


@lru_cache(maxsize=64)  # keyed on size and mtime: a file is read once however many loaders ask
def _problem(file: str, size: int, mtime_ns: int) -> str | None:
    """What makes `file` unreadable, with the fix; None when it reads."""
    if size == 0:
        return f"the file is empty (0 bytes): {AGAIN}"
    suffix = Path(file).suffix
    if suffix in (".jsonl", ".json"):
        return _json_problem(Path(file))
    if suffix == ".csv":
        return _csv_problem(Path(file))
    return _arrow_problem(Path(file), suffix)


def _json_problem(file: Path) -> str | None:
    """One JSON array of objects, or JSON Lines: one object per line (blank lines are fine)."""
    with file.open(encoding="utf-8", errors="replace") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith("["):
        return _json_array_problem(file)
    rows = 0
    with file.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line.rstrip())
            except json.JSONDecodeError as error:
                return _bad_line(number, f"{error.msg}: column {error.colno}", cut_short=not line.endswith("\n"))
            if not isinstance(row, dict):
                return (f"line {number} is a JSON {type(row).__name__}, not an object of columns; fix or drop that "
                        f"line, or {AGAIN}")
            rows += 1
    return None if rows else f"the file holds no rows, only blank lines: {AGAIN}"


def _bad_line(number: int, why: str, cut_short: bool) -> str:
    """The message for a JSON line that does not parse; the last line without a newline means a cut file."""
    if cut_short:
        return f"line {number}, the last, ends mid-row ({why}): {CUT_SHORT}"
    return f"line {number} is not valid JSON ({why}); fix or drop that line, or {AGAIN}"


def _json_array_problem(file: Path) -> str | None:
    """A file holding one JSON array must parse whole and hold objects."""
    try:
        rows = json.loads(file.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as error:
        if error.pos >= len(error.doc.rstrip()):
            return f"the JSON array ends early at line {error.lineno} ({error.msg}): {CUT_SHORT}"
        return f"line {error.lineno} is not valid JSON ({error.msg}); fix that line, or {AGAIN}"
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        return f"the JSON array must hold one object per row; {AGAIN} as JSON Lines or as an array of objects"
    return None if rows else f"the JSON array is empty, no rows: {AGAIN}"


def _csv_problem(file: Path) -> str | None:
    """A header, then rows with as many fields as the header; a quote left open at the end means a cut file."""
    csv.field_size_limit(2**31 - 1)  # worked solutions can exceed the default 128 KiB per field
    header, rows, start = None, 0, 1
    with file.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            for row in reader:
                if row and header is None:
                    header = row
                elif row and len(row) != len(header):
                    return (f"line {start} has {len(row)} field{'s' * (len(row) != 1)}, the header has "
                            f"{len(header)}; fix that line, or {AGAIN}")
                elif row:
                    rows += 1
                start = reader.line_num + 1
        except csv.Error as error:
            if "end of data" in str(error):
                return f"the file ends inside a quoted field that starts on line {start}: {CUT_SHORT}"
            return None  # quoting pandas tolerates; the loader reports what it cannot read
    if header is None:
        return f"the file holds only blank lines, no header or rows: {AGAIN}"
    return None if rows else f"the file has a header ({', '.join(header)}) but no rows: {AGAIN}"


def _arrow_problem(file: Path, suffix: str) -> str | None:
    """Parquet must have its footer (a cut file loses it); arrow must read as an IPC stream or file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = suffix.lstrip(".")
    try:
        rows = pq.ParquetFile(file).metadata.num_rows if suffix == ".parquet" else _ipc_rows(file)
    except (pa.ArrowException, OSError) as error:
        return f"cannot be read as {kind} ({str(error).splitlines()[0]}): the file is cut short or not {kind}; {AGAIN}"
    return None if rows else f"the {kind} file holds no rows: {AGAIN}"


def _ipc_rows(file: Path) -> int:
    """Rows of an Arrow IPC stream, or of an IPC file (the two layouts datasets' arrow loader reads)."""
    import pyarrow as pa

    with pa.memory_map(str(file)) as source:
        try:
            return pa.ipc.open_stream(source).read_all().num_rows
        except pa.ArrowInvalid:
            source.seek(0)
            return pa.ipc.open_file(source).read_all().num_rows
