"""Suite-wide guard: a run that collects no tests, or far too few, fails loudly.

pytest alone exits 5 on "no tests collected", which CI could mistake for a pass; here
an empty selection is a usage error, and a full-suite run must find at least
MINIMUM_TESTS (fewer means a test module failed to import or went missing).
"""
import sys
from pathlib import Path

import pytest

MINIMUM_TESTS = 100
SUITE_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(SUITE_ROOT.parent / "InteractiveSeg"))  # InteractiveSegLib, as Slicer's module path provides it


def pytest_collection_finish(session):
    whole_suite = [Path(a).resolve() for a in session.config.args] == [SUITE_ROOT] and not session.config.option.keyword
    needed = MINIMUM_TESTS if whole_suite else 1
    if len(session.items) < needed:
        raise pytest.UsageError(f"Only {len(session.items)} tests were collected, expected at least {needed}.")


@pytest.fixture(scope="session")
def engine():
    """One real engine worker process (`python -m interactiveseg worker`) shared by the logic tests.

    A test that kills it leaves no trace: the next request starts a fresh worker.
    """
    from InteractiveSegLib.engine_client import EngineClient
    client = EngineClient(threads=1)
    yield client
    client.close()
