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


def test_title_purpose_and_summary(notebook):
    first = _text(notebook["cells"][0])
    assert first.startswith("# ") and "\n>" in first, "first cell: H1 title then a '>' purpose line"
    markdown = [_text(cell) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]
    assert any(text.startswith("## Summary") for text in markdown)


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
        assert set(cell.get("metadata", {})) <= {"tags"}


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
