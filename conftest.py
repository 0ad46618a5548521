"""Repository-wide pytest set-up: offline Hub, nbval on notebooks committed without execution counts, xdist groups."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Notebooks and studies under test write PNG figures only; tests/test_plots.py checks PDF, SVG and PNG of every kind.
os.environ.setdefault("TINA_FIGURE_FORMATS", "png")
# The tests that reuse the session's tiny run and the notebooks that read it share one xdist worker.
TINY_RUN_GROUP = "tiny-run"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the groups into node ids
def pytest_collection_modifyitems(session, config, items):
    """Number the committed code cells for nbval, which skips outputs of cells whose count is None.

    The notebooks are committed with execution counts stripped (they only add noise to diffs), but nbval
    treats a cell without a count as never run and refuses its stored outputs.
    """
    for index, item in enumerate(items, 1):
        cell = getattr(item, "cell", None)
        if cell is not None and cell.get("execution_count") is None:
            cell.execution_count = index
        if item.path.suffix == ".ipynb":  # cells run in order in one kernel, after the tests that train the tiny run
            item.add_marker(pytest.mark.xdist_group(TINY_RUN_GROUP))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Refuse a pytest whose node ids drop xdist's group suffix: the groups would silently split across workers."""
    if not getattr(session.config.option, "loadgroup", False):  # set on xdist workers under --dist loadgroup
        return
    for item in session.items:
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
            raise pytest.UsageError(f"xdist groups do not reach the scheduler with pytest {pytest.__version__}; "
                                    "install the pinned test tools: pip install -e '.[dev]'")
