"""Repository-wide pytest set-up: offline Hub, and nbval on notebooks committed without execution counts."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_collection_modifyitems(session, config, items):
    """Number the committed code cells for nbval, which skips outputs of cells whose count is None.

    The notebooks are committed with execution counts stripped (they only add noise to diffs), but nbval
    treats a cell without a count as never run and refuses its stored outputs.
    """
    for index, item in enumerate(items, 1):
        cell = getattr(item, "cell", None)
        if cell is not None and cell.get("execution_count") is None:
            cell.execution_count = index
