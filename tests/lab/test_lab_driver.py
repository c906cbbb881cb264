"""The repo driver's runs in the device lab: several device kinds at once, state kept across a kill, logs kept.

A real Redis broker, real workers as processes, the real results server and a real driver
(a process where the test kills it) following a real git repository.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.store.result_store import ResultStore
from repo_driver.cli import main as driver_main
from repo_driver.demo.sample_repository import SampleRepository
from tests.git_repos import SLOW_CONV, DriverProcess
from tests.lab.test_lab import WAIT_S, stored_results, wait_for

# The program a platform's build makes: it notes its start, waits for its platform's `go`
# file in the folder it is given (so a test holds each device kind's job as long as it
# likes), then prints its measurements.
HELD_PROGRAM = """#!/bin/sh
touch "$1/started.@PLATFORM@.$$"
waited=0
while [ ! -e "$1/go.@PLATFORM@" ] && [ "$waited" -lt 1200 ]; do sleep 0.1; waited=$((waited + 1)); done
for value in 101 102 103 104 105; do
  echo "AIPEP {\\"type\\": \\"NET\\", \\"metric\\": \\"latency\\", \\"unit\\": \\"us\\", \\"value\\": $value}"
done
"""
# A program that crashes, telling why on its standard error.
CRASHING_PROGRAM = """#!/bin/sh
echo "kernel @PLATFORM@ crashed on purpose: bad tensor shape" >&2
exit 3
"""
BUILD_SCRIPT = """#!/bin/sh
set -eu
mkdir -p "$(dirname "$2")"
cat > "$2" <<'PROGRAM'
@PROGRAM@PROGRAM
chmod 755 "$2"
"""


class LabDriver:
    """A repository with one commit, build scripts making `program` for each platform, a spec, a database."""

    def __init__(self, root: Path, program: str, platforms: tuple[str, ...]) -> None:
        self.root = root
        self.markers = root / "markers"
        self.markers.mkdir(parents=True)
        self.sample = SampleRepository(root / "repos")
        self.commit = self.sample.commit("Import microkernel")
        self.checkout = self.sample.clone()
        self.frameworks = root / "frameworks"
        for platform in platforms:
            script = self.frameworks / "generic" / platform / "build.sh"
            script.parent.mkdir(parents=True)
            script.write_text(BUILD_SCRIPT.replace("@PROGRAM@", program.replace("@PLATFORM@", platform)))
        self.platforms = platforms
        test = {"identifier": "lab_driver", "metric": "delay", "iter": 5, "commands": [f"{{program}} {self.markers}"]}
        self.spec = root / "spec.json"
        self.spec.write_text(json.dumps({"model": {"name": "m", "format": "generic", "files": {}}, "tests": [test]}))
        self.db = root / "aipep.db"

    def argv(self, lab, kinds: dict[str, str]) -> list[str]:
        devices = ",".join(f"{platform}={kind}" for platform, kind in kinds.items())
        return [
            "--repo_dir", str(self.checkout), "--commit", self.commit,
            "--framework", "generic", "--frameworks_dir", str(self.frameworks),
            "--platforms", ",".join(self.platforms),
            "--exec_dir", str(self.root / "exec"), "--db", str(self.db),
            "--model_cache", str(self.root / "models"), "-b", str(self.spec),
            "--lab_broker", lab.broker_url, "--lab_devices", devices, "--remote_reporter", lab.server_url,
        ]  # fmt: skip

    def runs(self) -> list[tuple[str, str, int]]:
        """(platform, role, ok) of each run the driver stored."""
        with ResultStore(self.db) as store:
            return store.db.execute("SELECT platform, role, ok FROM driver_runs ORDER BY platform").fetchall()

    def state(self) -> str | None:
        with ResultStore(self.db) as store:
            row = store.db.execute("SELECT state FROM commits WHERE hash = ?", [self.commit]).fetchone()
        return row[0] if row else None

    def started(self, platform: str) -> int:
        return len(list(self.markers.glob(f"started.{platform}.*")))


def lab_status(lab) -> list[str]:
    return lab.status().stdout.splitlines()


def running(lines: list[str], device: str) -> bool:
    return any(f"\t{device}\t" in line and "\trunning job " in line for line in lines)


def test_the_driver_runs_each_device_kinds_job_at_once_and_a_kill_loses_no_stored_run(lab, tmp_path, monkeypatch):
    setup = LabDriver(tmp_path / "driver", HELD_PROGRAM, ("host", "ssh"))
    lab.start_worker("kappa-host", "kind-host", 3600, None, "--health_interval", "0.5")
    lab.start_worker("kappa-board", "kind-board", 3600, None, "--health_interval", "0.5")
    monkeypatch.setenv("AIPEP_REMOTE_ACCESS_TOKEN", lab.token)
    argv = setup.argv(lab, {"host": "kind-host", "ssh": "kind-board"})
    driver = DriverProcess([sys.executable, "-m", "repo_driver", *argv])
    try:
        # Both kinds' jobs are taken and running while neither may finish: both are in flight at once.
        wait_for(lambda: setup.started("host") == 1 and setup.started("ssh") == 1, "both kinds' programs started")
        wait_for(
            lambda: all(running(lab_status(lab), device) for device in ("host:kappa-host", "host:kappa-board")),
            "both workers running a job in the status",
        )
        assert setup.runs() == []
        (setup.markers / "go.host").touch()
        wait_for(lambda: setup.runs() == [("host", "baseline", 1)], "the host's run stored as it finished")
        assert setup.state() == "benchmarking"
        # Killed while the board's job is still in flight: what was stored stays, the rest is not there.
        driver.kill_all()
        driver.wait(timeout=WAIT_S)
    finally:
        driver.kill_all()
    assert setup.runs() == [("host", "baseline", 1)]
    assert setup.state() == "benchmarking"

    (setup.markers / "go.ssh").touch()
    assert driver_main(argv) == 0
    assert setup.runs() == [("host", "baseline", 1), ("ssh", "baseline", 1)]
    assert setup.state() == "done"
    # The restart ran only the board's job again (under the same id); the host's stored run was kept.
    assert setup.started("host") == 1
    assert len(stored_results(lab)) == 2


def test_a_failed_lab_jobs_logs_reach_the_drivers_records(lab, tmp_path, monkeypatch):
    setup = LabDriver(tmp_path / "driver", CRASHING_PROGRAM, ("host",))
    lab.start_worker("omicron-box", "omicron")
    monkeypatch.setenv("AIPEP_REMOTE_ACCESS_TOKEN", lab.token)
    assert driver_main(setup.argv(lab, {"host": "omicron"})) == 0
    with ResultStore(setup.db) as store:
        [(run_id,)] = store.db.execute("SELECT run_id FROM driver_runs").fetchall()
        run = store.load_run(run_id)
    assert not run.ok
    # Named as a local run names them: the failed arm's command, stdout and stderr.
    assert "kernel host crashed on purpose: bad tensor shape" in run.logs["treatment.stderr"]
    assert run.logs["treatment.command"].endswith(f" {setup.markers}")
    assert "treatment.stdout" in run.logs


# Builds a program whose measurements are ten times higher at a commit that slowed Conv down
# (a regression certain at any round count). Each process takes a ticket of its own (a file
# made by mktemp, never reused) and waits until the test writes the ticket's `.go` file, so
# the test releases each process or holds it, whichever run (and re-run round) it belongs to.
TICKET_BUILD_SCRIPT = """#!/bin/sh
set -eu
mkdir -p "$(dirname "$2")"
base=100
if grep -q "CONV_UNITS 400" "$1/microkernel.c"; then base=1000; fi
{
echo '#!/bin/sh'
echo "base=$base"
cat <<'PROGRAM'
ticket=$(mktemp "$1/ticket.@PLATFORM@.XXXXXX")
waited=0
while [ ! -e "$ticket.go" ] && [ "$waited" -lt 1200 ]; do sleep 0.1; waited=$((waited + 1)); done
for step in 1 2 3 4 5; do
  echo "AIPEP {\\"type\\": \\"NET\\", \\"metric\\": \\"latency\\", \\"unit\\": \\"us\\", \\"value\\": $((base + step))}"
done
PROGRAM
} > "$2"
chmod 755 "$2"
"""


class Tickets:
    """The processes of each platform's programs: which wait, and releasing them."""

    def __init__(self, markers: Path) -> None:
        self.markers = markers

    def waiting(self, platform: str) -> list[Path]:
        tickets = self.markers.glob(f"ticket.{platform}.*")
        return [
            ticket
            for ticket in tickets
            if ticket.suffix != ".go" and not ticket.with_name(f"{ticket.name}.go").exists()
        ]

    def release(self, platform: str) -> None:
        for ticket in self.waiting(platform):
            ticket.with_name(f"{ticket.name}.go").touch()


def test_the_driver_verifies_one_commit_on_each_device_kind_at_once(lab, tmp_path, monkeypatch):
    setup = LabDriver(tmp_path / "driver", HELD_PROGRAM, ("host", "ssh"))
    slow = setup.sample.commit("Rework Conv loop", units=SLOW_CONV)
    for platform in setup.platforms:
        script = setup.frameworks / "generic" / platform / "build.sh"
        script.write_text(TICKET_BUILD_SCRIPT.replace("@PLATFORM@", platform))
    test = {
        "identifier": "lab_driver",
        "metric": "delay",
        "iter": 5,
        "commands": [f"{{program}} {setup.markers}"],
        "regression_threshold": 50,
        "min_rounds": 8,
        "max_rounds": 8,
    }
    setup.spec.write_text(json.dumps({"model": {"name": "m", "format": "generic", "files": {}}, "tests": [test]}))
    lab.start_worker("rho-host", "verify-host", 3600, None, "--health_interval", "0.5")
    lab.start_worker("rho-board", "verify-board", 3600, None, "--health_interval", "0.5")
    monkeypatch.setenv("AIPEP_REMOTE_ACCESS_TOKEN", lab.token)
    argv = [*setup.argv(lab, {"host": "verify-host", "ssh": "verify-board"}), "--ab_testing", "--regression"]
    tickets = Tickets(setup.markers)

    def stored(platform: str, role: str) -> bool:
        return (platform, role, 1) in setup.runs()

    def verification_waiting(platform: str) -> bool:
        """Release the platform's processes of the main line; True once a verification's process waits.

        The driver submits verifications only once every benchmark run is stored, and a run is
        stored only once all its processes ended: a process waiting while its platform's
        benchmark run is stored is a verification's."""
        waiting = tickets.waiting(platform)
        if waiting and stored(platform, "benchmark"):
            return True
        tickets.release(platform)
        return False

    def regression_states() -> dict[str, str]:
        with ResultStore(setup.db) as store:
            return dict(store.db.execute("SELECT platform, state FROM driver_regressions").fetchall())

    driver = DriverProcess([sys.executable, "-m", "repo_driver", *argv])
    try:
        # Both kinds' verifications are taken and running while neither may finish: in flight at once.
        wait_for(
            lambda: all([verification_waiting("host"), verification_waiting("ssh")]),
            "both kinds' verifications started",
        )
        wait_for(
            lambda: all(running(lab_status(lab), device) for device in ("host:rho-host", "host:rho-board")),
            "both workers running a verification in the status",
        )
        main_line = [(platform, role, 1) for platform in ("host", "ssh") for role in ("baseline", "benchmark")]
        assert sorted(setup.runs()) == main_line
        assert regression_states() == {"host": "verifying", "ssh": "verifying"}
        # One kind's verification finishing concludes its regression alone; the other's stays open.
        wait_for(lambda: tickets.release("ssh") or stored("ssh", "verify"), "the board's verification stored")
        assert regression_states() == {"host": "verifying", "ssh": "confirmed"}
        assert len(tickets.waiting("host")) == 1
        wait_for(lambda: tickets.release("host") or driver.poll() is not None, "the driver done")
        assert driver.wait(timeout=WAIT_S) == 0
    finally:
        driver.kill_all()
    assert sorted(setup.runs()) == sorted([*main_line, ("host", "verify", 1), ("ssh", "verify", 1)])
    with ResultStore(setup.db) as store:
        regressions = store.db.execute("SELECT platform, state, culprit_hash FROM driver_regressions").fetchall()
        states = dict(store.db.execute("SELECT hash, state FROM commits").fetchall())
    assert sorted(regressions) == [("host", "confirmed", slow), ("ssh", "confirmed", slow)]
    assert states == {setup.commit: "done", slow: "regressed"}
    # Each verification ran on its own kind's worker, and was stored once.
    verified = [result for result in stored_results(lab) if result["meta"].get("driver_role") == "verify"]
    assert sorted(result["meta"]["device"]["identifier"] for result in verified) == ["rho-board", "rho-host"]
    assert len(stored_results(lab)) == 6
