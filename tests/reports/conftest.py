"""One real A/B run and one plain run of the scripted programs per test module, shared by its report tests."""

from __future__ import annotations

import pytest

from harness.store.result_store import ResultStore
from tests.reports.scripted_runs import ab_result_id, run_harness, write_program, write_spec


@pytest.fixture(scope="module")
def ab_run(tmp_path_factory):
    """(db, id) of an A/B result: Conv and NET regressed, one round re-run."""
    directory = tmp_path_factory.mktemp("ab")
    with pytest.MonkeyPatch.context() as monkeypatch:
        return ab_result_id(directory, monkeypatch)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """(db, id) of a run without a control."""
    directory = tmp_path_factory.mktemp("plain")
    db = directory / "aipep.db"
    assert run_harness(db, write_spec(directory), write_program(directory, "p.py", 100.0, 4), None, "abc1") == 0
    with ResultStore(db) as store:
        (result,) = store.find_runs()
    return db, result.id


@pytest.fixture(scope="module")
def commit_range(tmp_path_factory):
    """(db, ids oldest first) of A/B results over three commits; Conv got slower at the second one."""
    directory = tmp_path_factory.mktemp("range")
    db = directory / "aipep.db"
    fast = write_program(directory, "fast.py", 100.0, 3)
    slow = write_program(directory, "slow.py", 130.0, 3)
    spec = write_spec(directory, rounds=(10, 10))
    for time, (commit, treatment, control) in enumerate(
        [("aaa1", fast, fast), ("bbb2", slow, fast), ("ccc3", slow, slow)]
    ):
        assert run_harness(db, spec, treatment, control, commit, commit_time=time + 1) == 0
    with ResultStore(db) as store:
        return db, [result.id for result in reversed(store.find_runs())]
