"""Static checks of every committed notebook (no execution): structure, hygiene, tiny defaults.

Run: pytest tests/test_notebooks_static.py
"""

import json
import re
from pathlib import Path

import pytest

from tina_utils import pipeline

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["01_data", "02_train_lora_grpo", "03_evaluate", "04_cost_analysis", "05_phase_transition"]
ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(home|root|tmp|work|Users|opt|var)/")


def test_the_series_is_complete():
    assert [path.stem for path in NOTEBOOKS] == EXPECTED


@pytest.fixture(params=NOTEBOOKS, ids=lambda path: path.stem)
def notebook(request):
    return json.loads(request.param.read_text())


def _code(nb):
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code"]


def _text(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_exactly_one_parameters_cell_with_tiny_default(notebook):
    tagged = [cell for cell in notebook["cells"] if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert re.search(r"^profile\s*=\s*['\"]tiny['\"]", _text(tagged[0]), re.M), "default profile must be tiny"


def test_title_purpose_and_summary_or_findings(notebook):
    first = _text(notebook["cells"][0])
    assert first.startswith("# ") and "\n>" in first, "first cell: H1 title then a '>' purpose line"
    markdown = [_text(cell) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]
    assert any(text.startswith(("## Summary", "## Findings")) for text in markdown)
    if markdown[-1].startswith("## Findings"):  # ends with computed findings, not a file list
        last = notebook["cells"][-1]
        assert last["cell_type"] == "code" and "findings" in _text(last)


def test_setup_cell_seeds_and_prints_versions(notebook):
    assert any("env.setup(" in _text(cell) for cell in _code(notebook))


def test_committed_executed_without_errors(notebook):
    code = _code(notebook)
    assert any(cell["outputs"] for cell in code), "commit notebooks executed on the tiny profile"
    assert not [out for cell in code for out in cell["outputs"] if out["output_type"] == "error"]


def test_volatile_metadata_stripped(notebook):
    assert "papermill" not in notebook["metadata"]
    for cell in _code(notebook):
        assert cell.get("execution_count") is None
        assert set(cell.get("metadata", {})) <= set(pipeline.CELL_METADATA_KEPT)


def test_no_absolute_paths_or_memory_addresses(notebook):
    dumped = json.dumps(notebook)
    assert not ABSOLUTE_PATH.search(dumped), ABSOLUTE_PATH.search(dumped)
    assert not pipeline.ADDRESS.search(dumped)


def test_some_outputs_are_checked_by_nbval(notebook):
    assert any(_text(cell).startswith("# NBVAL_CHECK_OUTPUT") for cell in _code(notebook))


def test_strip_volatile_removes_counts_and_addresses():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x", execution_count=3, metadata={"tags": ["a"], "papermill": {"x": 1}})
    cell.outputs = [nbformat.v4.new_output("stream", text="<obj at 0x7f00deadbeef>\n"),
                    nbformat.v4.new_output("execute_result", {"text/plain": "1"}, execution_count=3)]
    nb.cells = [cell]
    nb.metadata["papermill"] = {"duration": 1.0}
    clean = pipeline.strip_volatile(nb)
    assert clean.cells[0].execution_count is None
    assert clean.cells[0].metadata == {"tags": ["a"]}
    assert clean.cells[0].outputs[0].text == "<obj>\n"
    assert clean.cells[0].outputs[1].execution_count is None
    assert "papermill" not in clean.metadata


def test_strip_volatile_drops_progress_bars_and_keeps_the_rest():
    import nbformat

    bar = "\rLoading weights:   0%|          | 0/50 [00:00<?, ?it/s]\rLoading weights: 100%|##| 50/50 [00:00<00:00]"
    table = "<div><progress value='75' max='75'></progress> [75/75 00:27]</div><table><th>Training Loss</th></table>"
    cell = nbformat.v4.new_code_cell("train()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=bar),
                    nbformat.v4.new_output("stream", name="stderr", text=bar + "\nwarning: kept\n"),
                    nbformat.v4.new_output("display_data", {"text/html": table, "text/plain": "<HTML>"}),
                    nbformat.v4.new_output("display_data", {"text/html": "<table>scores</table>"})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    outputs = pipeline.strip_volatile(nb).cells[0].outputs
    assert [o.get("text") or o.data["text/html"] for o in outputs] == ["warning: kept\n", "<table>scores</table>"]


def test_no_progress_bar_is_committed(notebook):
    for cell in _code(notebook):
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/html", ""))
            assert not pipeline.PROGRESS_BAR.search(text) and "<progress" not in text, _text(cell)[:80]


# ---------------------------------------------------------------- nbval checks only machine-independent output
# Rule: a cell marked NBVAL_CHECK_OUTPUT may not read anything computed from a training or evaluation run.
# Trained weights and sampled text differ between machines (floating point), so such output is not reproducible;
# assert the claim with its tolerance in an unchecked cell instead. RUN_CALLS produce run-derived values; every
# name assigned from one (or from a name already derived from one) is run-derived, cell after cell.
RUN_CALLS = {"train", "ensure_tiny_run", "sweep", "evaluate", "evaluate_checkpoints", "load_logs",
             "sample_completions", "checkpoint_costs", "run_costs", "saving_table", "compare", "check"}


def _names_and_calls(node):
    """(names read, names of functions called) anywhere under an ast node."""
    import ast

    reads = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    calls = {c.func.attr if isinstance(c.func, ast.Attribute) else getattr(c.func, "id", None)
             for c in ast.walk(node) if isinstance(c, ast.Call)}
    return reads, calls


def run_derived_checked_cells(nb) -> list[str]:
    """First line of every CHECK_OUTPUT cell that reads a run-derived name or calls a run."""
    import ast

    derived, offenders = set(), []
    for cell in _code(nb):
        source = "\n".join(line for line in _text(cell).splitlines() if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(source)
        reads, calls = _names_and_calls(tree)
        if "NBVAL_CHECK_OUTPUT" in source and (reads & derived or calls & RUN_CALLS):
            offenders.append(source.splitlines()[1] if len(source.splitlines()) > 1 else source)
        for statement in tree.body:
            reads, calls = _names_and_calls(statement)
            stores = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            tainted = bool(reads & derived or calls & RUN_CALLS)
            derived = derived | stores if tainted else derived - stores
    return offenders


def test_checked_outputs_never_depend_on_a_run(notebook):
    assert run_derived_checked_cells(notebook) == []


def test_the_run_derived_rule_catches_a_checkpoint_listing():
    cells = ["record = train.train(run)\nrun_dir = env.results_dir('02_train', record['run_id'])",
             "# NBVAL_CHECK_OUTPUT\nfor path in sorted(run_dir.glob('checkpoint-*')):\n    print(path)",
             "# NBVAL_CHECK_OUTPUT\nprint(config.describe(run))",
             "run_dir = env.results_dir('reference')\n", "# NBVAL_CHECK_OUTPUT\nprint(run_dir)"]
    nb = {"cells": [{"cell_type": "code", "source": text} for text in cells]}
    assert run_derived_checked_cells(nb) == ["for path in sorted(run_dir.glob('checkpoint-*')):"]


def test_every_notebook_names_the_python3_kernel(notebook):
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"  # papermill and Lab need a kernel to start


PAPERMILL_COMMAND = re.compile(r"`(papermill [^`]+)`")


def _commands(nb) -> list[str]:
    """The `papermill ...` commands a notebook's markdown shows."""
    markdown = (_text(cell) for cell in nb["cells"] if cell["cell_type"] == "markdown")
    return [command for text in markdown for command in PAPERMILL_COMMAND.findall(text)]


def _prepared(command: str, out_dir: Path) -> tuple[dict, dict]:
    """Prepare `command` with papermill's own CLI (--prepare-only, its parsing of -p/-y/-r) into out_dir; returns
    (the parameters cell's defaults, the values the command injects)."""
    import ast
    import shlex

    import papermill
    from click.testing import CliRunner
    from papermill.cli import papermill as papermill_cli

    words = shlex.split(command)
    source, out = ROOT / words[1], out_dir / Path(words[2]).name
    assert source.is_file(), command
    ran = CliRunner().invoke(papermill_cli, [str(source), str(out), *words[3:], "--prepare-only"])
    assert ran.exit_code == 0, f"{command}: {ran.output} {ran.exception!r}"
    cell = papermill.inspect_notebook(str(source))
    defaults = {name: ast.literal_eval(spec["default"]) for name, spec in cell.items()}
    injected = next(_text(c) for c in json.loads(out.read_text())["cells"]
                    if "injected-parameters" in c["metadata"].get("tags", []))
    assigned = ast.parse(injected).body
    return defaults, {node.targets[0].id: ast.literal_eval(node.value) for node in assigned}


def _at_defaults(defaults: dict, given: dict) -> bool:
    return all(defaults.get(name) == value for name, value in given.items())


def _tiny_commands_off_defaults() -> list[str]:
    """Tiny-profile commands of any notebook whose parameters differ from its parameters cell's defaults."""
    import tempfile

    found = []
    with tempfile.TemporaryDirectory() as folder:
        for path in NOTEBOOKS:
            for command in _commands(json.loads(path.read_text())):
                defaults, given = _prepared(command, Path(folder))
                if given.get("profile", defaults["profile"]) == "tiny" and not _at_defaults(defaults, given):
                    found.append(command)
    return found


def test_every_papermill_command_in_a_notebook_prepares_with_parameters_it_has(notebook, tmp_path):
    """Each command prepares with papermill's CLI (--prepare-only): its notebook exists and every parameter it sets
    is one of the parameters cell's, injected as papermill parses it. GPU-profile commands are only prepared. A
    tiny-profile command whose parameters equal the defaults runs the very notebook nbval executes with those
    defaults in this same session (`make test`), so that run is its execution; a tiny command with other
    parameters is executed for real by test_a_tiny_command_off_the_defaults_runs."""
    for command in _commands(notebook):
        defaults, given = _prepared(command, tmp_path)
        assert given and set(given) <= set(defaults), f"{command}: {sorted(set(given) - set(defaults))} unknown"
        tiny = given.get("profile", defaults["profile"]) == "tiny"
        assert not tiny or _at_defaults(defaults, given) or command in TINY_OFF_DEFAULTS, command


def test_the_parameters_of_a_command_are_read_as_papermill_reads_them(tmp_path):
    source = "notebooks/02_train_lora_grpo.ipynb"
    defaults, given = _prepared(f"papermill {source} out.ipynb -p profile tiny -p seed 0 -p n_samples 4", tmp_path)
    assert given == {"profile": "tiny", "seed": 0, "n_samples": 4} and _at_defaults(defaults, given)
    _, other = _prepared(f"papermill {source} out.ipynb -p seed 1 -y 'overrides: {{max_steps: 4}}'", tmp_path)
    assert other == {"seed": 1, "overrides": {"max_steps": 4}} and not _at_defaults(defaults, other)
    _, unknown = _prepared(f"papermill {source} out.ipynb -p sed 1", tmp_path)  # papermill only warns
    assert set(unknown) - set(defaults) == {"sed"}
    with pytest.raises(AssertionError, match="missing.ipynb"):
        _prepared("papermill notebooks/missing.ipynb out.ipynb -p seed 1", tmp_path)


TINY_OFF_DEFAULTS = _tiny_commands_off_defaults()


@pytest.mark.slow
@pytest.mark.xdist_group("tiny-run")  # a tiny command may train or reuse the tiny run
@pytest.mark.parametrize("command", TINY_OFF_DEFAULTS)
def test_a_tiny_command_off_the_defaults_runs(command, tmp_path):
    """Executes a tiny-profile command whose parameters differ from the defaults (GPU commands are only prepared)."""
    import shlex
    import subprocess
    import sys

    words = shlex.split(command)
    out = tmp_path / Path(words[2]).name
    subprocess.run([sys.executable, "-m", "papermill", str(ROOT / words[1]), str(out), *words[3:]],
                   cwd=ROOT / "notebooks", check=True, timeout=300)
    assert not any(o.get("output_type") == "error" for c in json.loads(out.read_text())["cells"]
                   for o in c.get("outputs", []))


def test_code_cells_narrate_in_a_few_lines(notebook):
    for cell in _code(notebook):
        text = _text(cell)
        assert len(text.splitlines()) <= 12, f"move the logic into tina_utils: {text[:80]!r}"


def test_every_notebook_opens_with_what_tina_did(notebook):
    """Before its first numbered section, a notebook says what Tina did at this stage and shows the paper's numbers
    (a code cell reading them from results/reference/ through tina_utils, checked by nbval)."""
    cells = notebook["cells"]
    first_section = next(i for i, cell in enumerate(cells) if _text(cell).startswith("## 1."))
    opening = [i for i, cell in enumerate(cells[:first_section]) if _text(cell).startswith("## What Tina did")]
    assert opening, "open with a '## What Tina did at this stage' section before '## 1.'"
    shown = cells[opening[0] + 1]
    assert shown["cell_type"] == "code" and "findings." in _text(shown), "then a cell showing the paper's numbers"
