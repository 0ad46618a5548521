"""A malformed, truncated or empty data file is one `error:` line naming the file, the problem and the fix (exit 2)
in `python -m tina_utils.train|evaluate|pipeline`, before any output folder is made (tina_utils/data/local_files.py).

Run: pytest tests/test_data_files.py
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tina_utils import pipeline
from tina_utils.data import local_files, sources
from tina_utils.evaluate import cli as evaluate_cli
from tina_utils.train import runner

REPO = Path(__file__).resolve().parents[1]
ROWS = [{"id": str(i), "problem": f"What is {i} + {i}?", "answer": str(2 * i), "solution": f"$\\boxed{{{2 * i}}}$"}
        for i in range(3)]
LINES = [json.dumps(row) for row in ROWS]
BROKEN = {  # jsonl content, what the error line says
    "malformed": ("\n".join([LINES[0], LINES[1].replace('", "', '" "', 1), LINES[2]]) + "\n",
                  "line 2 is not valid JSON (Expecting ',' delimiter: column"),
    "truncated": ("\n".join([LINES[0], LINES[1], LINES[2][:25]]),
                  ("line 3, the last, ends mid-row (Unterminated string starting at: column 24): the file looks cut "
                   "short (an interrupted download or export?); download or export it again")),
    "empty": ("", "the file is empty (0 bytes): download or export it again"),
}


def write(folder: Path, name: str, content) -> Path:
    """A file in `folder` holding `content` (str or bytes)."""
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def one_line_error(main, argv, capsys) -> str:
    """The only stderr line of a CLI call that must exit with code 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err.strip()


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch) -> Path:
    """An unmade results folder: a failed command must leave it unmade (or empty)."""
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TINA_DEBUG", raising=False)
    return tmp_path / "results"


def left_in(results: Path) -> list[str]:
    """Every path a command left under the results folder."""
    return sorted(str(p.relative_to(results)) for p in results.rglob("*")) if results.exists() else []


def cli_calls(path: Path) -> dict:
    """(entry point, argv, label the error line starts with) per CLI for the data file `path`."""
    return {"train": (runner.main, ["open_rs2", "--dataset_path", str(path)],
                      f"error: recipe 'open_rs2': dataset_path '{path}': "),
            "evaluate": (evaluate_cli.main, ["r1-mini", "--benchmarks", "aime24", "--data", f"aime24={path}"],
                         f"error: --data aime24={path}: "),
            "pipeline": (pipeline.main, ["--only", "02", "-p", "dataset_path", str(path)],
                         f"error: parameter dataset_path '{path}': ")}


@pytest.mark.parametrize("cli", ["train", "evaluate", "pipeline"])
@pytest.mark.parametrize("broken", list(BROKEN))
def test_every_cli_names_a_broken_file_in_one_line_and_makes_no_folder(cli, broken, tmp_path, results, capsys):
    content, expected = BROKEN[broken]
    main, argv, label = cli_calls(write(tmp_path, f"{broken}.jsonl", content))[cli]
    line = one_line_error(main, argv, capsys)
    assert line.startswith(label + expected.split(" (")[0]) and expected in line, line
    assert line.endswith("(--debug shows the traceback)")
    assert left_in(results) == []


@pytest.mark.parametrize("name, content, expected", [
    ("rows.csv", "id,problem,answer\n0,\"What is 1 + 1?\",2\n1,\"What is",
     ("the file ends inside a quoted field that starts on line 3: the file looks cut short (an interrupted download "
      "or export?); download or export it again")),
    ("rows.csv", "id,problem,answer\n0,one,2\n1,two\n", "line 3 has 2 fields, the header has 3; fix that line"),
    ("rows.csv", "id,problem,answer\n", "the file has a header (id, problem, answer) but no rows"),
    ("rows.csv", "", "the file is empty (0 bytes)"),
    ("rows.json", json.dumps(ROWS, indent=1)[:-40], "the JSON array ends early at line"),
    ("rows.json", "[]", "the JSON array is empty, no rows"),
    ("rows.jsonl", "\n \n", "the file holds no rows, only blank lines"),
    ("rows.jsonl", LINES[0] + "\n[1, 2]\n", "line 2 is a JSON list, not an object of columns"),
    ("rows.parquet", b"", "the file is empty (0 bytes)"),
    ("rows.jsonnl", LINES[0], "unknown file type '.jsonnl'; valid types (closest first): .jsonl, .json,"),
])
def test_broken_csv_json_and_parquet_files_say_what_is_wrong(name, content, expected, tmp_path):
    path = write(tmp_path, name, content)
    with pytest.raises(ValueError) as error:
        local_files.check(path, "--data aime24=x")
    assert str(error.value).startswith("--data aime24=x: ") and expected in str(error.value)


def parquet_bytes(rows: list[dict]) -> bytes:
    """`rows` as a parquet file's bytes."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([("id", pa.string()), ("problem", pa.string())])), sink)
    return sink.getvalue().to_pybytes()


def arrow_stream_bytes(rows: list[dict]) -> bytes:
    """`rows` as an Arrow IPC stream (what save_to_disk writes)."""
    table, sink = pa.Table.from_pylist(rows), pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=1)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize("name, make, expected", [
    ("rows.parquet", lambda: parquet_bytes(ROWS)[:200],
     ("cannot be read as parquet (Parquet magic bytes not found in footer. Either the file is corrupted or this is not "
      "a parquet file.): the file is cut short or not parquet")),
    ("rows.parquet", lambda: parquet_bytes([]), "the parquet file holds no rows"),
    ("rows.arrow", lambda: arrow_stream_bytes(ROWS)[:-100], "cannot be read as arrow ("),
])
def test_cut_or_rowless_parquet_and_arrow_files_cannot_be_read(name, make, expected, tmp_path):
    with pytest.raises(ValueError, match="^local dataset ") as error:
        local_files.check(write(tmp_path, name, make()))
    assert expected in str(error.value) and "download or export it again" in str(error.value)


def test_whole_files_of_every_type_pass(tmp_path):
    for name, content in [("a.jsonl", "\n".join(LINES) + "\n\n"), ("b.jsonl", "\n".join(LINES)),
                          ("c.json", json.dumps(ROWS, indent=1)), ("d.csv", "id,problem\n0,\"a, b\"\n"),
                          ("e.parquet", parquet_bytes(ROWS)), ("f.arrow", arrow_stream_bytes(ROWS))]:
        local_files.check(write(tmp_path, name, content))  # raises on a problem


def test_the_loader_checks_the_file_before_datasets_reads_it(tmp_path):
    path = write(tmp_path, "aime24.jsonl", BROKEN["empty"][0])
    with pytest.raises(ValueError, match=r"^local dataset '.*aime24.jsonl': the file is empty \(0 bytes\)"):
        sources.load_local(path)


def test_a_broken_file_in_a_folder_is_named(tmp_path):
    write(tmp_path, "part-0.jsonl", "\n".join(LINES) + "\n")
    write(tmp_path, "part-1.jsonl", BROKEN["truncated"][0])
    with pytest.raises(ValueError, match=r"^local dataset '.*': part-1.jsonl: line 3, the last, ends mid-row"):
        local_files.check(tmp_path)


@pytest.mark.parametrize("argv, expected", [
    (["--only", "03", "-p", "data_paths", "{aime24: BAD}"], "error: parameter data_paths aime24 'BAD': line 2 is"),
    (["--only", "01", "-p", "local_path", "BAD"], "error: parameter local_path 'BAD': line 2 is not valid JSON"),
    (["--only", "02", "-p", "overrides", "{dataset_path: BAD}"], "error: parameter overrides dataset_path 'BAD'"),
    (["--only", "02", "--grid", "dataset_path=GOOD,BAD"], "error: parameter dataset_path 'BAD': line 2 is not"),
    (["--only", "02", "-p", "dataset_path", "missing.jsonl"],
     "error: parameter dataset_path 'missing.jsonl': the file does not exist"),
])
def test_the_pipeline_checks_every_data_parameter_before_a_notebook_starts(argv, expected, tmp_path, results, capsys):
    good = write(tmp_path, "good.jsonl", "\n".join(LINES) + "\n")
    bad = write(tmp_path, "bad.jsonl", BROKEN["malformed"][0])
    argv = [arg.replace("GOOD", str(good)).replace("BAD", str(bad)) for arg in argv]
    line = one_line_error(pipeline.main, argv, capsys)
    assert line.startswith(expected.replace("BAD", str(bad))), line
    assert left_in(results) == []


def test_the_pipeline_hands_notebooks_absolute_data_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "train.jsonl", "\n".join(LINES) + "\n")
    checked = pipeline.checked_data_files({"dataset_path": "train.jsonl", "data_paths": {"aime24": "train.jsonl"},
                                           "overrides": {"max_steps": 2, "dataset_path": "train.jsonl"},
                                           "local_path": None, "seed": 1})
    absolute = str(tmp_path / "train.jsonl")
    assert checked == {"dataset_path": absolute, "data_paths": {"aime24": absolute},
                       "overrides": {"max_steps": 2, "dataset_path": absolute}, "local_path": None, "seed": 1}


@pytest.mark.parametrize("target, expected", [
    ("results/02_train/no-such-run", "'results/02_train/no-such-run' does not exist; pass a training run folder"),
    ("no-such-run", "model 'no-such-run' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 is set")])
def test_evaluating_a_run_that_does_not_exist_is_one_line_and_makes_no_folder(target, expected, results, capsys):
    line = one_line_error(evaluate_cli.main, [target, "--benchmarks", "tiny_eval", "--n_problems", "1"], capsys)
    assert line.startswith(f"error: {expected}"), line
    assert left_in(results) == []


def test_a_failed_evaluation_removes_the_output_folders_it_made(results, capsys):
    run = results / "02_train" / "lost-model-run"
    run.mkdir(parents=True)
    (run / "recipe.yaml").write_text("model: nobody/no-such-model\n")
    line = one_line_error(evaluate_cli.main, ["lost-model-run", "--benchmarks", "tiny_eval", "--n_problems", "1"],
                          capsys)
    assert "model 'nobody/no-such-model' is not in the local Hugging Face cache" in line
    assert left_in(results) == ["02_train", "02_train/lost-model-run", "02_train/lost-model-run/recipe.yaml"]


@pytest.mark.slow
def test_real_processes_exit_2_with_one_line_and_leave_no_folder(tmp_path, results):
    files = {broken: write(tmp_path, f"{broken}.jsonl", content) for broken, (content, _) in BROKEN.items()}
    commands = {"train": ["open_rs2", "--dataset_path", str(files["malformed"])],
                "evaluate": ["r1-mini", "--benchmarks", "aime24", "--data", f"aime24={files['truncated']}"],
                "pipeline": ["--only", "02", "-p", "dataset_path", str(files["empty"])]}
    env = {**os.environ, "TINA_RESULTS": str(results), "HF_HUB_OFFLINE": "1"}
    started = {cli: subprocess.Popen([sys.executable, "-m", f"tina_utils.{cli}", *argv], cwd=REPO, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE) for cli, argv in commands.items()}
    done = {cli: (process.communicate(timeout=300), process.returncode) for cli, process in started.items()}
    expected = {"train": BROKEN["malformed"][1], "evaluate": BROKEN["truncated"][1], "pipeline": BROKEN["empty"][1]}
    for cli, ((out, err), code) in done.items():
        assert code == 2 and out == "" and len(err.splitlines()) == 1, (cli, err)
        assert err.startswith("error: ") and expected[cli] in err, (cli, err)
    assert left_in(results) == []
