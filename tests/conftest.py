"""Unit tests never write into the checkout's results/: every test run gets its own results folder.

Under pytest-xdist (`make test` runs two workers) each worker is a session of its own, with its own results folder.
"""

import os
import tempfile

import pytest


@pytest.fixture(autouse=True, scope="session")
def isolated_results():
    """Point $TINA_RESULTS at a temporary folder for the whole test session (tests may override it)."""
    previous = os.environ.get("TINA_RESULTS")
    with tempfile.TemporaryDirectory(prefix="tina-results-") as folder:
        os.environ["TINA_RESULTS"] = folder
        yield folder
    if previous is None:
        os.environ.pop("TINA_RESULTS", None)
    else:
        os.environ["TINA_RESULTS"] = previous

