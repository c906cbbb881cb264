"""The repo driver as a service process: kill -9 and restart, SIGTERM, the status file."""

from __future__ import annotations

import shutil
import signal

import pytest

from tests.git_repos import EXIT_TIMEOUT, SLOW_CONV, DriverSetup, finish, wait_for_line

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on this machine")


@pytest.fixture
def setup(tmp_path) -> DriverSetup:
    return DriverSetup(tmp_path)


def test_kill_9_during_a_run_then_restart_leaves_exactly_one_result_per_commit(setup):
    sample = setup.sample
    commits = [sample.commit("Import microkernel"), *(sample.commit(f"Change {n}") for n in range(1, 4))]
    seen: list[str] = []
    driver = setup.spawn(first=commits[0])
    wait_for_line(driver, f"{commits[2][:10]} 'Change 2': benchmarking", seen)
    wait_for_line(driver, "round 1/", seen)
    driver.kill()
    driver.wait(timeout=EXIT_TIMEOUT)
    assert setup.states()[commits[2]] == "benchmarking"
    assert commits[2] not in {commit for commit, _ in setup.main_runs()}

    restarted = setup.spawn()
    assert finish(restarted, seen) == 0, "".join(seen)

    assert sorted(setup.main_runs()) == sorted(
        [(commits[0], None), (commits[1], commits[0]), (commits[2], commits[1]), (commits[3], commits[2])]
    )
    stored = setup.query(
        "SELECT commit_hash, count(*) FROM runs WHERE json_extract(meta, '$.driver_role') IN ('baseline', 'benchmark')"
        " GROUP BY commit_hash"
    )
    assert dict(stored) == dict.fromkeys(commits, 1)
    assert set(setup.states().values()) == {"done"}


def test_kill_9_during_a_bisection_then_restart_resumes_it_without_repeating_a_step(setup):
    sample = setup.sample
    base = sample.commit("Import microkernel")
    line = [sample.commit(f"Change {n}", units=SLOW_CONV if n >= 2 else None) for n in range(1, 5)]
    seen: list[str] = []
    driver = setup.spawn("--step", "4", "--same_host", first=base)
    wait_for_line(driver, "bisect: 4 suspects left", seen)
    wait_for_line(driver, "round 1/", seen)
    driver.kill()
    driver.wait(timeout=EXIT_TIMEOUT)
    assert setup.query("SELECT state FROM driver_regressions") == [("bisecting",)]

    assert finish(setup.spawn("--step", "4", "--same_host"), seen) == 0, "".join(seen)

    [regression] = setup.regressions()
    assert (regression["state"], regression["culprit_hash"]) == ("confirmed", line[1])
    steps = setup.query("SELECT hash, outcome FROM driver_bisect_steps ORDER BY step")
    assert steps == [(line[1], "bad"), (line[0], "good")]
    # A step stores one A/B run, plus a reversed-order verify run when the first was inconclusive;
    # a step repeated after the restart would show up as a second run of the same type.
    tested = setup.query(
        "SELECT d.hash, r.run_type, count(*) FROM driver_runs d JOIN runs r ON r.id = d.run_id"
        " WHERE d.role = 'bisect' GROUP BY d.hash, r.run_type"
    )
    assert {(commit, count) for commit, _, count in tested} == {(line[1], 1), (line[0], 1)}
    assert {commit: run_type for commit, run_type, _ in tested if run_type != "verify"} == {
        line[1]: "benchmark",
        line[0]: "benchmark",
    }
    assert setup.main_runs() == [(base, None), (line[3], base)]


def test_sigterm_stops_between_rounds_and_a_restart_completes_the_commit(setup):
    sample = setup.sample
    base, first, second = sample.commit("Import microkernel"), sample.commit("Change 1"), sample.commit("Change 2")
    seen: list[str] = []
    driver = setup.spawn("--same_host", first=base)
    wait_for_line(driver, f"{first[:10]} 'Change 1': benchmarking", seen)
    wait_for_line(driver, "round 2/", seen)
    driver.send_signal(signal.SIGTERM)
    assert finish(driver, seen) == 0
    assert any("stopped: got SIGTERM" in line for line in seen), "".join(seen)
    assert setup.main_runs() == [(base, None)]

    assert finish(setup.spawn("--same_host"), seen) == 0

    assert setup.main_runs() == [(base, None), (first, base), (second, first)]


def test_status_file_holding_0_stops_the_service(setup):
    base = setup.sample.commit("Import microkernel")
    status_file = setup.root / "status"
    seen: list[str] = []
    driver = setup.spawn("--interval", "0.2", "--status_file", str(status_file), first=base)
    wait_for_line(driver, "NET p50", seen)
    assert status_file.read_text().strip() == "1"

    status_file.write_text("0\n")

    assert finish(driver, seen) == 0
    assert any(f"stopped: {status_file} holds 0" in line for line in seen), "".join(seen)
