"""Hostile conditions for the reporters: a server that fails on one record, disks that are full
or read-only, paths that are not files, text UTF-8 cannot hold, huge error pages.

The disks are real: a tmpfs of a few hundred kilobytes filled up, or remounted read-only.
The tests run as root, which chmod cannot stop, so a mount is the mechanism; where this
machine does not allow mounting, those tests skip and say why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import stat
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main
from harness.reporters.outbox import Outbox
from harness.reporters.quarantine_policy import QuarantinePolicy
from harness.reporters.remote import remote_reporter
from harness.reporters.results_server import Answer, ResultsServer, RetryPolicy
from harness.reporters.undelivered import Undelivered
from harness.store.result_store import ResultStore
from tests.test_remote_reporter import QUICK_RETRY, TOKEN, LoopbackResultsServer, make_result

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120
TESTS_IN_SPEC = 3


@pytest.fixture
def results_server():
    running = LoopbackResultsServer().start()
    yield running
    running.stop()


def reporter(server: LoopbackResultsServer, outbox: Path, undelivered: Undelivered, **options):
    made = remote_reporter(server.url, TOKEN, outbox, undelivered, retry=QUICK_RETRY, **options)
    made.deliver_queued()
    return made


# A server that fails on one record


def test_a_result_the_server_always_fails_on_goes_behind_the_others_then_into_quarantine(
    results_server, tmp_path, capsys
):
    poisoned, first, second, third = (make_result(number) for number in range(4))
    results_server.failing_ids = {poisoned.id}
    policy = QuarantinePolicy(attempts=2, span_seconds=0)
    undelivered = Undelivered()
    outbox = Outbox(tmp_path / "outbox")

    run = reporter(results_server, outbox.root, undelivered, quarantine=policy)
    for result in (poisoned, first, second):
        run.report(result)
    run.close()
    assert list(results_server.records) == [first.id, second.id]
    assert results_server.posts_by_id[poisoned.id] == QUICK_RETRY.attempts, "tried once in the run, not per result"
    assert [path.stem for path in outbox.queued()] == [poisoned.id] and not undelivered
    err = capsys.readouterr().err
    assert (
        f"harness: {results_server.url} failed on result {poisoned.id} (500: internal server error: the database "
        f"refused the record), 1 time so far; it waits in {outbox.pending_dir} behind the others\n"
    ) in err
    assert f"harness: results server: delivered 2 results to {results_server.url}\n" in err

    run = reporter(results_server, outbox.root, undelivered, quarantine=policy)
    run.report(third)
    run.close()
    assert list(results_server.records) == [first.id, second.id, third.id]
    assert outbox.queued() == [] and undelivered.quarantined == [poisoned.id]
    kept = json.loads((outbox.quarantine_dir / f"{poisoned.id}.json").read_text())
    assert (kept["status"], kept["count"], kept["result"]["id"]) == (500, 2, poisoned.id)
    assert "the database refused the record" in kept["reason"]
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "not sent again" in line]
    assert line.startswith(f"harness: {results_server.url} failed on result {poisoned.id} 2 times since ")
    assert line.endswith(f"it is not sent again, kept in {outbox.quarantine_dir / poisoned.id}.json")


def test_a_server_failing_on_every_result_quarantines_nothing_and_later_takes_them_in_order(results_server, tmp_path):
    results = [make_result(number) for number in range(5)]
    results_server.failing_ids = {result.id for result in results}
    policy = QuarantinePolicy(attempts=1, span_seconds=0)
    undelivered = Undelivered()
    run = reporter(results_server, tmp_path / "outbox", undelivered, quarantine=policy)
    for result in results:
        run.report(result)
    run.close()
    assert results_server.records == {} and not undelivered
    assert len(Outbox(tmp_path / "outbox").queued()) == 5

    results_server.failing_ids = set()
    reporter(results_server, tmp_path / "outbox", undelivered, quarantine=policy).close()
    assert list(results_server.records) == [result.id for result in results]
    assert set(results_server.created.values()) == {1} and not undelivered


def test_the_harness_exits_4_when_a_result_the_server_keeps_failing_on_is_quarantined(
    results_server, tmp_path, build_microkernel, capsys
):
    poisoned = make_result(7)
    outbox = Outbox(tmp_path / "outbox")
    outbox.put(poisoned.id, json.dumps(poisoned.to_json()))
    hour_ago = time.time() - 3600
    for attempt in range(QuarantinePolicy().attempts):
        outbox.count_failure(poisoned.id, 500, "internal server error", hour_ago + attempt * 60)
    results_server.failing_ids = {poisoned.id}
    status = main([*harness_flags(tmp_path, build_microkernel), "--remote_reporter", results_server.url,
                   "--remote_access_token", TOKEN, "--remote_outbox", str(outbox.root)])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 4, err
    assert f"failed on result {poisoned.id} 6 times since" in err and "it is not sent again" in err
    assert outbox.queued() == [] and (outbox.quarantine_dir / f"{poisoned.id}.json").exists()
    assert len(results_server.records) == TESTS_IN_SPEC


# The outbox's own files


def test_a_fifo_in_the_outbox_is_moved_aside_without_being_opened(results_server, tmp_path, build_microkernel):
    outbox = Outbox(tmp_path / "outbox")
    outbox.pending_dir.mkdir(parents=True)
    os.mkfifo(outbox.pending_dir / "0123abcd.json")
    (tmp_path / "elsewhere.json").write_text(json.dumps(make_result().to_json()))
    (outbox.pending_dir / "89abcdef.json").symlink_to(tmp_path / "elsewhere.json")
    done = subprocess.run(
        [sys.executable, "-m", "harness", *harness_flags(tmp_path, build_microkernel),
         "--remote_reporter", results_server.url, "--remote_outbox", str(outbox.root)],
        env={**os.environ, "AIPEP_REMOTE_ACCESS_TOKEN": TOKEN}, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        f"harness: {outbox.pending_dir / '0123abcd.json'}: not a queued result (not a regular file but a FIFO); "
        f"moved to {outbox.corrupt_dir / '0123abcd.json'}\n"
    ) in done.stderr
    assert (
        f"harness: {outbox.pending_dir / '89abcdef.json'}: not a queued result (not a regular file but a symbolic "
        f"link); moved to {outbox.corrupt_dir / '89abcdef.json'}\n"
    ) in done.stderr
    assert stat.S_ISFIFO((outbox.corrupt_dir / "0123abcd.json").lstat().st_mode)
    assert (outbox.corrupt_dir / "89abcdef.json").is_symlink()
    assert len(results_server.records) == TESTS_IN_SPEC and outbox.queued() == []


def test_an_upper_case_copy_of_a_result_id_is_the_same_record(results_server, tmp_path):
    result = make_result()
    upper = dataclasses.replace(result, id=result.id.upper())
    outbox = Outbox(tmp_path / "outbox")
    outbox.pending_dir.mkdir(parents=True)
    (outbox.pending_dir / f"{upper.id}.json").write_text(json.dumps(upper.to_json()))
    run = reporter(results_server, outbox.root, Undelivered())
    run.report(upper)
    run.report(result)
    run.close()
    assert results_server.created == Counter({result.id: 1})
    assert outbox.queued() == []

    with ResultStore(tmp_path / "aipep.db") as store:
        store.save_run(result)
        store.save_run(upper)
        assert [run.id for run in store.find_runs()] == [result.id]
        assert store.load_run(upper.id).id == result.id


def test_an_error_page_of_200_mb_is_read_only_up_to_a_bound(results_server):
    size = 200 * 1024 * 1024
    results_server.error_page_bytes = size
    client = ResultsServer(results_server.url, TOKEN)
    body = json.dumps(make_result().to_json())
    tracemalloc.start()
    try:
        outcome = client.post(body, RetryPolicy(attempts=1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        client.close()
    assert (outcome.answer, outcome.status) == (Answer.FAILED_ON_RECORD, 500)
    assert outcome.reason.startswith("<p>xxx") and len(outcome.reason) <= 200
    assert peak < 8 * 1024 * 1024, f"{peak} bytes allocated while reading the answer"
    assert results_server.error_page_bytes_sent < size // 4


# Disks that will not take a write


@pytest.fixture
def small_disk(tmp_path):
    """Mount tmpfs file systems of their own under tmp_path; all are unmounted afterwards."""
    mounted: list[Path] = []

    def mount(name: str, size: str = "512k") -> Path:
        directory = tmp_path / name
        directory.mkdir()
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
        except FileNotFoundError:
            pytest.skip("no mount command: a full or read-only disk needs a file system of its own")
        if done.returncode != 0:
            pytest.skip(
                f"cannot mount a tmpfs here ({done.stderr.strip()}); chmod does not stop root, "
                "so a full or read-only disk needs a file system of its own"
            )
        mounted.append(directory)
        return directory

    yield mount
    for directory in reversed(mounted):
        done = subprocess.run(["umount", str(directory)], capture_output=True, timeout=30)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(directory)], capture_output=True, timeout=30)


def remount_read_only(directory: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True, capture_output=True, timeout=30)


def fill(directory: Path) -> None:
    """Write until the file system says it is full; what is left is less than one small block."""
    with open(directory / "filler", "wb", buffering=0) as stream:
        for block_size in (64 * 1024, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    stream.write(b"\0" * block_size)
    with pytest.raises(OSError) as raised:
        (directory / "probe").write_bytes(b"\0" * 8192)
    assert raised.value.errno == errno.ENOSPC


def harness_flags(tmp_path: Path, build_microkernel, db: Path | None = None) -> list[str]:
    spec = tmp_path / "spec.json"
    tests = [
        {"identifier": f"test{number}", "metric": "delay", "warmup": 0, "iter": 3,
         "commands": ["{program} --warmup {warmup} --iter {iter}"]}
        for number in range(TESTS_IN_SPEC)
    ]  # fmt: skip
    model = {"name": "microkernel", "format": "microkernel", "files": {}}
    spec.write_text(json.dumps({"model": model, "tests": tests}))
    info = {"treatment": {"program": str(build_microkernel()), "commit": "c1", "commit_time": 1}}
    return ["-b", str(spec), "--info", json.dumps(info), "--model_cache", str(tmp_path / "models"),
            "--simple_screen_reporter", "--db", str(db or tmp_path / "aipep.db")]  # fmt: skip


@pytest.mark.parametrize("trouble", ["read-only", "full"])
def test_reporters_on_a_disk_that_will_not_take_writes_are_one_line_each_and_the_run_goes_on(
    trouble, small_disk, results_server, tmp_path, build_microkernel, capsys
):
    disk = small_disk("disk")
    db, local, outbox = disk / "aipep.db", disk / "results", Outbox(disk / "outbox")
    ResultStore(db).close()
    local.mkdir()
    outbox.pending_dir.mkdir(parents=True)
    if trouble == "read-only":
        remount_read_only(disk)
    else:
        fill(disk)
    status = main([*harness_flags(tmp_path, build_microkernel, db), "--local_reporter", str(local),
                   "--remote_reporter", results_server.url, "--remote_access_token", TOKEN,
                   "--remote_outbox", str(outbox.root)])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 4, err
    printed = [json.loads(line) for line in out.splitlines()]
    assert [result["meta"]["identifier"] for result in printed] == [f"test{n}" for n in range(TESTS_IN_SPEC)]
    assert all(result["status"] == "success" for result in printed)
    assert sorted(results_server.records) == sorted(result["id"] for result in printed)
    assert "Traceback" not in err
    for result in printed:
        for destination in (f"--db {db}", f"--local_reporter {local}"):
            assert f"harness: {destination}: cannot write result {result['id']} (" in err
        assert f"cannot queue result {result['id']} (" in err and "it is sent without a copy on disk" in err
    assert len(err.splitlines()) == 3 * TESTS_IN_SPEC + 1, err


def test_a_result_neither_queued_nor_delivered_is_named_and_undelivered(small_disk, results_server, tmp_path, capsys):
    disk = small_disk("disk")
    outbox = Outbox(disk / "outbox")
    outbox.pending_dir.mkdir(parents=True)
    remount_read_only(disk)
    results_server.stop()
    undelivered = Undelivered()
    run = reporter(results_server, outbox.root, undelivered)
    result = make_result()
    run.report(result)
    run.close()
    assert undelivered.not_queued == [result.id]
    assert (
        f"harness: 1 result could not be queued in {outbox.pending_dir} nor delivered to {results_server.url}: "
        f"{result.id}; only the other reporters have them\n"
    ) in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "device", "file in the way"])
def test_a_db_path_that_cannot_be_a_database_is_refused_with_one_line_before_anything_runs(
    kind, tmp_path, build_microkernel
):
    db = tmp_path / "aipep.db"
    expected = {"fifo": "got a FIFO", "device": "got a device", "file in the way": "folder (Not a directory)"}[kind]
    if kind == "fifo":
        os.mkfifo(db)
    elif kind == "device":
        try:
            os.mknod(db, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError as error:
            pytest.skip(f"cannot make a device node here ({error.strerror})")
    else:
        (tmp_path / "a_file").write_text("")
        db = tmp_path / "a_file" / "aipep.db"
    done = subprocess.run(
        [sys.executable, "-m", "harness", *harness_flags(tmp_path, build_microkernel, db)],
        capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"harness: error: --db: {db}: expected ") and expected in line
    assert done.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("aipep.db")) == (
        [] if kind == "file in the way" else ["aipep.db"]
    )


def test_text_utf8_cannot_hold_is_stored_escaped_by_every_reporter(results_server, tmp_path, build_microkernel, capsys):
    local = tmp_path / "results"
    status = main([*harness_flags(tmp_path, build_microkernel), "--local_reporter", str(local),
                   "--user_identifier", "team \ud800 \udcff", "--remote_reporter", results_server.url,
                   "--remote_access_token", TOKEN, "--remote_outbox", str(tmp_path / "outbox")])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    escaped = "team \\ud800 \\udcff"
    printed = [json.loads(line) for line in out.splitlines()]
    assert [result["meta"]["user_identifier"] for result in printed] == [escaped] * TESTS_IN_SPEC
    with ResultStore(tmp_path / "aipep.db") as store:
        assert [run.meta["user_identifier"] for run in store.find_runs()] == [escaped] * TESTS_IN_SPEC
    assert [record["meta"]["user_identifier"] for record in results_server.records.values()] == [escaped] * 3
    files = sorted(local.rglob("result.json"))
    assert [json.loads(path.read_text())["meta"]["user_identifier"] for path in files] == [escaped] * 3
