"""The service loop: poll the branch, queue new commits, build, benchmark, verify, bisect, watch for creep.

Every step reads its starting point from the database and writes its outcome there
before the next step starts, so the loop can be killed anywhere and restarted:

    queued -> building -> built | build_failed
    built -> benchmarking -> done | regressed

A commit in `benchmarking` that already has its stored result goes straight on to
verification; one without is run again, the interrupted run having left nothing behind.
Each step is its own collaborator (intake, building, benchmarking, verification,
bisection); this module only puts them in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import git

from aipep_core.job import Job
from aipep_core.spec import load_benchmarks
from harness.store.result_store import ResultStore
from repo_driver.benchmarking import Benchmarking
from repo_driver.bisection import Bisection
from repo_driver.build_ahead import BuildAhead
from repo_driver.builder import Builder
from repo_driver.building import Building
from repo_driver.checkout_watch import CheckoutWatch
from repo_driver.commit_file import CommitFile
from repo_driver.creep import DEFAULT_THRESHOLD_PCT, detect_creep
from repo_driver.exec_cache import ExecCache
from repo_driver.git_follower import CommitInfo, GitFollower
from repo_driver.harness_runs import HarnessRuns
from repo_driver.intake import Intake
from repo_driver.lock import DatabaseLock
from repo_driver.options import DriverOptions
from repo_driver.progress import say
from repo_driver.state.driver_state import DriverState
from repo_driver.state.regressions import BISECTING, VERIFYING
from repo_driver.stopping import EXIT_INTERRUPTED, StopControl, Stopped
from repo_driver.verification import Verification
from repo_driver.worktrees import Worktrees

EXIT_REGRESSION = 3


def _runs(options: DriverOptions, job: Job, stop: StopControl) -> HarnessRuns:
    """Runs in this process, or, with --lab_broker, as lab jobs (Celery is imported only then)."""
    if not options.lab_broker:
        return HarnessRuns(job, stop.event)
    from repo_driver.lab_runs import LabRuns

    return LabRuns(job, stop.event, options.lab_broker, options.lab_kinds)


class Driver:
    def __init__(self, options: DriverOptions, job: Job, stop: StopControl) -> None:
        self.options = options
        self.stop = stop
        self.follower = GitFollower(options.repo_dir, options.branch, options.remote)
        self.repo_id = str(options.repo_dir)
        self.cache = ExecCache(options.exec_dir, options.framework)
        # Keyed by repository and database: drivers sharing an exec cache never clean each other's worktrees.
        owner = f"{self.repo_id}\n{options.db.resolve()}".encode()
        tree_root = options.exec_dir / ".worktrees" / hashlib.sha1(owner).hexdigest()[:12]
        worktrees = Worktrees(self.follower.repo, tree_root)
        self.builder = Builder(worktrees, self.cache, options.frameworks_dir, options.build_timeout, stop.event)
        self.runs = _runs(options, job, stop)
        self.creep_threshold = job.settings.regression_threshold or DEFAULT_THRESHOLD_PCT
        self.checkout = CheckoutWatch(self.follower, worktrees, options.repo_dir, options.interval)
        self.commit_file = CommitFile(options.commit_file, self.follower)

    def run(self) -> int:
        """Check what can be checked before the first build, then poll until told to stop (or once)."""
        for spec in self.runs.job.specs:
            load_benchmarks(spec, self.runs.job.string_map, per_arm=self.runs.job.arms.string_map_names())
        for platform in self.options.platforms:
            self.builder.script(platform)
        base_commit = (
            self.follower.resolve(self.options.base_commit, "--base_commit") if self.options.base_commit else None
        )
        with DatabaseLock(self.options.db), self.open_state() as state:
            passes = _Passes(self, state, base_commit)
            self.builder.worktrees.clean()
            state.queue.requeue_interrupted_builds()
            try:
                while True:
                    if self.checkout.present():
                        self._one_pass_unless_checkout_gone(passes)
                    if self.options.interval is None or self.stop.wait(self.options.interval):
                        break
            except Stopped:
                pass
            if self.stop.interrupted:
                say("interrupted; a restart resumes from the database")
                return EXIT_INTERRUPTED
            if self.stop.event.is_set():
                say(f"stopped: {self.stop.reason}; a restart resumes from the database")
        return EXIT_REGRESSION if self.options.fail_on_regression and passes.verification.confirmed else 0

    def _one_pass_unless_checkout_gone(self, passes: _Passes) -> None:
        """One pass; an error it ends with after a stop, or while the checkout is gone or replaced,
        means only that."""
        try:
            passes.one_pass()
        except Stopped:
            raise
        except Exception:
            if self.stop.event.is_set():
                # Ctrl-C reaches the terminal's whole foreground group (systemd's stop, the whole
                # cgroup), so a git command killed by the same signal fails here: that is the stop.
                raise Stopped() from None
            if not self.checkout.explains_failed_pass():
                raise

    @contextmanager
    def open_state(self) -> Iterator[DriverState]:
        store = ResultStore(self.options.db)
        try:
            yield DriverState(store, self.repo_id, self.options.framework)
        finally:
            store.close()


class _Passes:
    """One pass in order: fetch, queue what is new, go on with bisections, build and benchmark, watch for creep."""

    def __init__(self, driver: Driver, state: DriverState, base_commit: str | None) -> None:
        options, stop, runs = driver.options, driver.stop, driver.runs
        self.driver = driver
        self.state = state
        self.intake = Intake(driver.follower, state, options.step, options.commit, driver.commit_file)
        self.building = Building(options.platforms, driver.cache, driver.builder, state, self.intake)
        self.benchmarking = Benchmarking(options, base_commit, state, self.intake, self.building, runs, stop)
        self.verification = Verification(state, self.intake, self.building, runs, stop)
        self.bisection = Bisection(state, self.intake, self.building, runs, stop)

    def one_pass(self) -> None:
        driver = self.driver
        try:
            driver.follower.fetch()
        except git.GitCommandError as error:
            driver.stop.check()  # a Ctrl-C reaches the fetch too
            detail = (error.stderr or str(error)).strip().splitlines()[-1:] or ["unknown error"]
            say(f"fetch from {driver.follower.remote} failed ({detail[0]}); going on with what was fetched before")
        self.intake.follow()
        self.bisection.bisect_all(self.state.regressions.find([BISECTING]))
        self._process(self.state.queue.pending())
        for platform in driver.options.platforms:
            for alert in detect_creep(self.state, platform, driver.creep_threshold):
                say(f"slow creep on {platform}: {alert}")

    def _process(self, pending: list[CommitInfo]) -> None:
        if not pending:
            return
        if self.driver.options.same_host:
            for commit in pending:
                self.driver.stop.check()
                self._after_build(commit, self.building.ensure_built(self.state, commit))
            return
        for commit, built in BuildAhead(pending, self.building.ensure_built, self.driver.open_state):
            self._after_build(commit, built)

    def _after_build(self, commit: CommitInfo, built: bool) -> None:
        if built:
            self._benchmark(commit)
        else:
            self.driver.commit_file.write(commit.hash)

    def _benchmark(self, commit: CommitInfo) -> None:
        """A/B the commit, verify what it regressed, settle its state, then bisect a confirmed range."""
        self.benchmarking.benchmark(commit)
        verifying = [r for r in self.state.regressions.find([VERIFYING]) if r.bad_hash == commit.hash]
        self.verification.verify_all(verifying)
        self.state.queue.set_state(commit.hash, "regressed" if self.benchmarking.regressed(commit) else "done")
        self.driver.commit_file.write(commit.hash)
        self.bisection.bisect_all([r for r in self.state.regressions.find([BISECTING]) if r.bad_hash == commit.hash])
