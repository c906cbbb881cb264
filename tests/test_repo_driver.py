"""The repo driver end to end: real git repositories, real C builds, real A/B runs of the microkernel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import git
import pytest

from repo_driver.cli import main
from repo_driver.lock import DatabaseLock
from tests.git_repos import SLOW_CONV, DriverSetup

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on this machine")


@pytest.fixture
def setup(tmp_path) -> DriverSetup:
    return DriverSetup(tmp_path)


def test_regression_is_confirmed_and_attributed_to_its_commit_and_operator(setup, capsys):
    sample = setup.sample
    base = sample.commit("Import microkernel")
    tidy = sample.commit("Tidy comments")
    slow = sample.commit("Rework Conv loop", units=SLOW_CONV)
    after = sample.commit("Update notes")

    checkout = git.Repo(sample.clone())
    head_before = checkout.head.commit.hexsha

    assert main(setup.argv("--fail_on_regression", first=base)) == 3

    states = setup.states()
    assert states == {base: "done", tidy: "done", slow: "regressed", after: "done"}
    [regression] = setup.regressions()
    assert regression["state"] == "confirmed"
    assert regression["culprit_hash"] == slow
    assert (regression["good_hash"], regression["bad_hash"]) == (tidy, slow)
    assert '"Conv latency"' in regression["keys"]
    roles = setup.query("SELECT role FROM driver_runs WHERE hash = ? ORDER BY saved_at", [slow])
    assert [role for (role,) in roles] == ["benchmark", "verify"]
    assert "CONFIRMED REGRESSION" in capsys.readouterr().err
    assert checkout.head.commit.hexsha == head_before  # fetched, never checked out
    assert not checkout.is_dirty(untracked_files=True)
    assert len(checkout.git.worktree("list").splitlines()) == 1

    assert main(["status", "--db", str(setup.db)]) == 0
    printed = capsys.readouterr().out
    assert "queue: 0 commit(s)" in printed
    assert f"{slow[:10]} vs {tidy[:10]} verify" in printed
    assert "open regressions: 1" in printed
    assert f"culprit {slow[:10]}: Conv latency +" in printed


def test_step_of_four_is_bisected_to_the_culprit(setup):
    sample = setup.sample
    base = sample.commit("Import microkernel")
    line = [sample.commit(f"Change {n}", units=SLOW_CONV if n >= 6 else None) for n in range(1, 9)]
    culprit = line[5]

    assert main(setup.argv("--step", "4", first=base)) == 0

    assert [commit for commit, _ in setup.main_runs()] == [base, line[3], line[7]]
    [regression] = setup.regressions()
    assert (regression["good_hash"], regression["bad_hash"]) == (line[3], line[7])
    assert regression["state"] == "confirmed"
    assert regression["culprit_hash"] == culprit
    steps = setup.query("SELECT hash, outcome FROM driver_bisect_steps ORDER BY step")
    assert steps == [(culprit, "bad"), (line[4], "good")]


def test_broken_build_is_recorded_with_its_log_and_skipped(setup):
    sample = setup.sample
    base = sample.commit("Import microkernel")
    broken = sample.commit("Half-done refactor", broken=True)
    fixed = sample.commit("Finish refactor")
    commit_file = setup.root / "last_commit"

    assert main(setup.argv("--same_host", "--commit_file", str(commit_file), first=base)) == 0

    assert setup.states() == {base: "done", broken: "build_failed", fixed: "done"}
    [(status, program, log)] = setup.query(
        "SELECT b.status, b.program, b.log FROM builds b JOIN commits c ON c.id = b.commit_id WHERE c.hash = ?",
        [broken],
    )
    assert (status, program) == ("failed", None)
    assert "this commit does not build" in log
    assert setup.main_runs() == [(base, None), (fixed, base)]
    assert commit_file.read_text().strip() == fixed


def test_force_push_drops_rewritten_commits_and_follows_the_new_history(setup):
    sample = setup.sample
    base = sample.commit("Import microkernel")
    kept = sample.commit("Tidy comments")
    dropped = sample.commit("Experiment")
    assert main(setup.argv(first=base)) == 0
    sample.rewind(kept)
    replacement = sample.commit("Experiment, redone")
    newer = sample.commit("Update notes")

    assert main(setup.argv()) == 0

    assert setup.query("SELECT orphaned FROM driver_commits WHERE hash = ?", [dropped]) == [(1,)]
    assert setup.main_runs() == [(base, None), (kept, base), (dropped, kept), (replacement, kept), (newer, replacement)]
    states = setup.states()
    assert states[replacement] == states[newer] == "done"
    statuses = [status for (status,) in setup.query("SELECT status FROM builds")]
    assert statuses == ["built"] * 5  # each commit compiled once; controls came from the exec cache


def test_weekly_base_compares_every_commit_of_the_week_with_its_first(setup):
    sample = setup.sample
    first, second, third = (sample.commit(subject) for subject in ("First", "Second", "Third"))  # one Monday

    assert main(setup.argv("--weekly_base", "--same_host", first=first)) == 0

    assert setup.main_runs() == [(first, None), (second, first), (third, first)]


def test_an_unreachable_remote_is_reported_and_the_pass_goes_on_with_what_was_fetched(setup, capsys):
    base = setup.sample.commit("Import microkernel")
    argv = setup.argv(first=base)
    setup.sample.upstream_dir.rename(setup.root / "moved.git")

    assert main(argv) == 0

    assert "fetch from origin failed" in capsys.readouterr().err
    assert setup.main_runs() == [(base, None)]


def test_a_second_driver_on_the_same_database_is_refused(setup, capsys):
    base = setup.sample.commit("Import microkernel")
    with DatabaseLock(setup.db):
        assert main(setup.argv(first=base)) == 2
    assert "expected no other repo_driver on this database" in capsys.readouterr().err


def test_the_drivers_spec_check_reads_string_map_like_the_harness(setup, tmp_path, capsys):
    # A spec whose files are under {MODEL_DIR}: refused without --string_map, checked with it (the
    # driver then stops at the next check, the build script a scripts folder without one lacks).
    spec = Path(__file__).resolve().parent / "data/faipep/specifications/caffe2/model_dir_like/model_dir_like.json"
    base = setup.sample.commit("Import microkernel")
    argv = setup.argv("-b", str(spec), "--frameworks_dir", str(tmp_path / "no_scripts"), first=base)
    assert main(argv) == 2
    assert "model.files.init.location: {MODEL_DIR} is not defined" in capsys.readouterr().err
    string_map = ["--string_map", json.dumps({"MODEL_DIR": str(spec.parent), "DATASET_DIR": "data"})]
    assert main([*argv, *string_map]) == 2
    assert "--frameworks_dir: expected a build script" in capsys.readouterr().err
