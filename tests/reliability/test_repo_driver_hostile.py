"""The repo driver against what a long-running service meets: hostile builds, a checkout that
vanishes, a force-push of another history, Ctrl-C. Real git repositories, real builds, real
processes and signals; each wait has a deadline."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import sys

import git
import psutil
import pytest

from aipep_core.errors import UserError
from repo_driver.cli import main
from repo_driver.git_follower import GONE, GitFollower
from tests.git_repos import (
    EXIT_TIMEOUT,
    REPO,
    DriverProcess,
    DriverSetup,
    finish,
    wait_for_line,
)

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on this machine")

MICROKERNEL_BUILD = REPO / "specifications" / "frameworks" / "microkernel" / "host" / "build.sh"
BIG_OUTPUT_BYTES = 256 * 1024 * 1024
# Runs the driver and writes its own peak memory on exit. VmHWM belongs to the process's own
# address space; getrusage's and wait4's ru_maxrss also carry the peak of the process it was
# forked from (the test runner, which may hold gigabytes by then).
MEASURED_DRIVER = """
import atexit, pathlib, runpy, sys
out = pathlib.Path(sys.argv.pop(1))
def write_peak():
    status = pathlib.Path("/proc/self/status").read_text().splitlines()
    kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    out.write_text(str(kib * 1024))
atexit.register(write_peak)
sys.argv[0] = "repo_driver"
runpy.run_module("repo_driver", run_name="__main__")
"""


@pytest.fixture
def setup(tmp_path) -> DriverSetup:
    return DriverSetup(tmp_path)


def frameworks_with_build(setup: DriverSetup, before: str) -> list[str]:
    """Driver flags for a microkernel host build.sh that runs the shell code `before`, then the real build."""
    script = setup.root / "frameworks" / "microkernel" / "host" / "build.sh"
    script.parent.mkdir(parents=True)
    script.write_text(f'{before}\nexec sh {shlex.quote(str(MICROKERNEL_BUILD))} "$@"\n')
    return ["--frameworks_dir", str(setup.root / "frameworks")]


def build_log(setup: DriverSetup, commit: str) -> tuple[str, str]:
    [(status, log)] = setup.query(
        "SELECT b.status, b.log FROM builds b JOIN commits c ON c.id = b.commit_id WHERE c.hash = ?", [commit]
    )
    return status, log


def live_sleeps(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE and process.name() == "sleep":
                alive.append(pid)
    return alive


def test_wait_for_line_gives_up_at_its_deadline_shows_where_the_silent_process_hung_and_ends_it():
    silent = DriverProcess([sys.executable, "-c", "import time; time.sleep(600)"])
    with pytest.raises(AssertionError, match="within 1 s") as failure:
        wait_for_line(silent, "never printed", [], timeout=1)
    assert 'File "<string>", line 1 in <module>' in str(failure.value)
    assert silent.wait(timeout=EXIT_TIMEOUT) == -signal.SIGABRT


def test_a_failing_build_printing_bytes_that_are_not_utf8_is_recorded_and_the_driver_goes_on(setup, capsys):
    flags = frameworks_with_build(
        setup,
        "if grep -q 'does not build' \"$1/microkernel.c\"; then\n"
        "  printf 'cc: error in \\377\\376 source\\n'; printf 'on stderr \\377\\n' >&2; exit 1\n"
        "fi",
    )
    sample = setup.sample
    base = sample.commit("Import microkernel")
    broken = sample.commit("Half-done refactor", broken=True)
    fixed = sample.commit("Finish refactor")

    assert main(setup.argv("--same_host", *flags, first=base)) == 0

    assert setup.states() == {base: "done", broken: "build_failed", fixed: "done"}
    status, log = build_log(setup, broken)
    assert status == "failed"
    assert "cc: error in \ufffd\ufffd source" in log and "on stderr \ufffd" in log
    assert "exit status 1; no program: build failed" in log
    assert setup.main_runs() == [(base, None), (fixed, base)]
    assert "build FAILED" in capsys.readouterr().err


def test_a_build_leaving_processes_that_hold_its_output_neither_blocks_the_driver_nor_outlives_it(setup):
    pids = setup.root / "pids"
    pids.mkdir()
    where = shlex.quote(str(pids))
    flags = frameworks_with_build(
        setup,
        # One stays in the build's process group, one leaves it; both hold the build's stdout.
        f"sh -c 'echo $$ > {where}/in_group; exec sleep 300' &\n"
        f"setsid sh -c 'echo $$ > {where}/own_session; exec sleep 300' &\n"
        f"while [ ! -s {where}/in_group ] || [ ! -s {where}/own_session ]; do sleep 0.05; done",
    )
    base = setup.sample.commit("Import microkernel")
    seen: list[str] = []
    try:
        # The deadline is far below the sleeps' 300 s: a driver waiting on their pipe fails it.
        assert finish(setup.spawn(*flags, first=base), seen, timeout=EXIT_TIMEOUT) == 0, "".join(seen)
        assert setup.states() == {base: "done"}
        assert build_log(setup, base)[0] == "built"
        started = [int(path.read_text()) for path in sorted(pids.iterdir())]
        assert len(started) == 2
        assert live_sleeps(started) == []
    finally:
        for pid in live_sleeps([int(path.read_text()) for path in pids.iterdir() if path.read_text().strip()]):
            psutil.Process(pid).kill()


def test_a_build_printing_hundreds_of_megabytes_keeps_a_bounded_head_and_tail(setup):
    flags = frameworks_with_build(
        setup,
        f"echo FIRST LINE; yes 'a line of build output' | head -c {BIG_OUTPUT_BYTES}; echo; echo LAST LINE; exit 1",
    )
    base = setup.sample.commit("Import microkernel")
    seen: list[str] = []
    peak_file = setup.root / "peak_bytes"
    driver = DriverProcess([sys.executable, "-c", MEASURED_DRIVER, str(peak_file), *setup.argv(*flags, first=base)])
    wait_for_line(driver, "build FAILED", seen)
    status = finish(driver, seen)
    peak_bytes = int(peak_file.read_text())

    assert status == 0, "".join(seen)
    assert setup.states() == {base: "build_failed"}
    log = build_log(setup, base)[1]
    assert len(log) < 200_000
    assert "FIRST LINE" in log and "LAST LINE" in log and "bytes of output left out" in log
    # Holding the output, even once, would take more than the output's size.
    assert peak_bytes < BIG_OUTPUT_BYTES


def test_a_build_past_its_timeout_is_ended_with_what_it_started_and_recorded_as_failed(setup):
    pid_file = setup.root / "build_pid"
    flags = frameworks_with_build(setup, f"echo started; echo $$ > {shlex.quote(str(pid_file))}; exec sleep 300")
    base = setup.sample.commit("Import microkernel")
    seen: list[str] = []

    assert finish(setup.spawn(*flags, "--build_timeout", "2", first=base), seen) == 0, "".join(seen)

    status, log = build_log(setup, base)
    assert status == "failed"
    assert "started\ntimed out after 2 s; no program: build failed" in log
    assert setup.states() == {base: "build_failed"}
    assert live_sleeps([int(pid_file.read_text())]) == []


def test_the_checkout_deleted_during_an_ab_is_one_line_and_followed_again_once_cloned_anew(setup):
    sample = setup.sample
    base, first, second = (sample.commit(subject) for subject in ("Import microkernel", "Change 1", "Change 2"))
    status_file = setup.root / "status"
    seen: list[str] = []
    driver = setup.spawn("--same_host", "--interval", "0.3", "--status_file", str(status_file), first=base)
    wait_for_line(driver, f"{first[:10]} 'Change 1': benchmarking", seen)
    wait_for_line(driver, "round 1/", seen)

    shutil.rmtree(sample.checkout_dir)
    wait_for_line(driver, "is gone (deleted or moved); the database keeps the driver's state", seen)
    assert driver.poll() is None

    fresh = setup.root / "fresh-clone"
    git.Repo.clone_from(str(sample.upstream_dir), fresh, branch=sample.branch)
    fresh.rename(sample.checkout_dir)
    wait_for_line(driver, "is there again; going on", seen)
    third = sample.commit("Change 3")
    wait_for_line(driver, f"{third[:10]} 'Change 3': host:", seen)
    status_file.write_text("0\n")

    assert finish(driver, seen) == 0, "".join(seen)
    printed = "".join(seen)
    assert "Traceback" not in printed and "--branch" not in printed and "fetch from origin failed" not in printed
    assert printed.count("is gone") == 1  # one line, not one per pass
    # The A/B in flight when the checkout went is kept; nothing was run twice.
    assert setup.main_runs() == [(base, None), (first, base), (second, first), (third, second)]
    assert set(setup.states().values()) == {"done"}


def test_the_checkout_deleted_during_a_single_pass_exits_2_in_one_line_keeping_the_state(setup, capsys):
    checkout = setup.sample.checkout_dir.resolve()
    flags = frameworks_with_build(setup, f"rm -rf {shlex.quote(str(checkout))}")
    base = setup.sample.commit("Import microkernel")
    argv = setup.argv(*flags, first=base)

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"repo_driver: error: --repo_dir: {checkout} was deleted or moved during the pass" in err
    assert "Traceback" not in err
    assert setup.states() == {base: "building"}

    assert main(argv) == 2  # at start: the same one line, no traceback
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"repo_driver: error: --repo_dir: expected a git repository, got {checkout}"]

    git.Repo.clone_from(str(setup.sample.upstream_dir), checkout, branch=setup.sample.branch)
    assert main(setup.argv(first=base)) == 0
    assert setup.states() == {base: "done"}


def test_git_never_runs_in_the_drivers_own_directory_once_the_checkout_is_gone(setup, monkeypatch):
    setup.sample.commit("Import microkernel")
    follower = GitFollower(setup.sample.clone(), None, None)
    # The driver's working directory happens to be another clone of the same upstream.
    bystander = setup.root / "bystander"
    git.Repo.clone_from(str(setup.sample.upstream_dir), bystander, branch=setup.sample.branch)
    monkeypatch.chdir(bystander)
    shutil.rmtree(setup.sample.checkout_dir)

    with pytest.raises(git.GitCommandError):
        follower.fetch()
    with pytest.raises(UserError):
        follower.line()
    assert not (bystander / ".git" / "FETCH_HEAD").exists()
    assert follower.whereabouts() == GONE


def test_a_force_push_of_an_unrelated_history_with_commit_set_goes_on_from_the_new_tip(setup, capsys):
    sample = setup.sample
    base = sample.commit("Import microkernel")
    argv = setup.argv("--same_host", first=base)
    assert main(argv) == 0
    # A new root commit replaces the branch: none of the old history is reachable from it.
    sample.author.git.update_ref("-d", f"refs/heads/{sample.branch}")
    new_root = sample.commit("Import microkernel, history squashed")
    new_tip = sample.commit("Change on the new history")
    capsys.readouterr()

    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "history was rewritten: no commit processed before is on origin/main any more" in err
    assert f"starting again at its tip {new_tip[:10]}" in err
    assert main(argv) == 0  # and on the next start: no crash loop

    states = setup.states()
    assert states[new_tip] == "done" and new_root not in states
    assert setup.main_runs() == [(base, None), (new_tip, None)]


def test_sigint_stops_the_driver_in_one_line_with_exit_130_keeping_its_state(setup):
    sample = setup.sample
    base, first = sample.commit("Import microkernel"), sample.commit("Change 1")
    seen: list[str] = []
    driver = setup.spawn("--same_host", first=base, with_stdout=True)  # where the reporters print
    wait_for_line(driver, f"{first[:10]} 'Change 1': benchmarking", seen)
    wait_for_line(driver, "round 2/", seen)
    since = len(seen)
    os.killpg(driver.pid, signal.SIGINT)  # as Ctrl-C at a terminal: the whole foreground group

    assert finish(driver, seen) == 130, "".join(seen)
    after = seen[since:]
    assert [line for line in after if "interrupted" in line] == [after[-1]], "".join(after)
    assert not any("fail" in line.lower() for line in after), "".join(after)
    assert setup.states()[first] == "benchmarking"
    assert setup.main_runs() == [(base, None)]

    assert finish(setup.spawn("--same_host"), seen) == 0
    assert setup.main_runs() == [(base, None), (first, base)]


def test_sigint_during_a_build_ends_it_and_does_not_record_it_as_failed(setup):
    pid_file = setup.root / "build_pid"
    flags = frameworks_with_build(setup, f"echo $$ > {shlex.quote(str(pid_file))}; exec sleep 300")
    base = setup.sample.commit("Import microkernel")
    seen: list[str] = []
    driver = setup.spawn(*flags, first=base)
    wait_for_line(driver, f"{base[:10]} 'Import microkernel': building", seen)
    os.killpg(driver.pid, signal.SIGINT)

    assert finish(driver, seen) == 130, "".join(seen)
    assert "interrupted" in seen[-1]
    assert setup.query("SELECT count(*) FROM builds") == [(0,)]
    assert setup.states()[base] in ("queued", "building")  # built again on the next start
    if pid_file.exists():
        assert live_sleeps([int(pid_file.read_text())]) == []


def test_sigint_stops_the_demo_with_exit_130_and_no_verdict(tmp_path):
    demo = DriverProcess([sys.executable, "-m", "repo_driver.demo", "--keep", str(tmp_path)], with_stdout=True)
    seen: list[str] = []
    wait_for_line(demo, "round 1/", seen)
    since = len(seen)
    os.killpg(demo.pid, signal.SIGINT)

    assert finish(demo, seen) == 130, "".join(seen)
    after = seen[since:]
    assert [line for line in after if "interrupted" in line] == [after[-1]], "".join(after)
    assert not any("regression" in line or "noisy" in line or "FAIL" in line for line in after), "".join(after)
    assert (tmp_path / "aipep.db").is_file()
