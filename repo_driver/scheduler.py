"""The service loop: poll the branch, queue new commits, build, benchmark, verify, bisect.

Every step reads its starting point from the database and writes its outcome there
before the next step starts, so the loop can be killed anywhere and restarted:

    queued -> building -> built | build_failed
    built -> benchmarking -> done | regressed

A commit in `benchmarking` that already has its stored result goes straight on to
verification; one without is run again, the interrupted run having left nothing behind.

The checkout can vanish under a service (deleted, or moved away to be cloned anew). That
is not a reason to exit: a service manager would restart the driver into the same missing
directory, and someone would have to start it again once the checkout is back. The
database is left as it is, one line says the checkout is gone, and each pass looks for it
again; once it is there (the same or a new clone) the driver reopens it and goes on. A
single pass (no --interval) has no next pass, so there it is one line and exit 2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import git

from aipep_core.errors import UserError
from aipep_core.result_record import RunResult
from aipep_core.spec import load_benchmarks
from aipep_core.verdict import Verdict
from harness.store.result_store import ResultStore
from harness.store.transaction import write_transaction
from repo_driver import bisect, verdicts
from repo_driver.build_ahead import BuildAhead
from repo_driver.builder import Builder, BuildOutcome
from repo_driver.control_choice import choose_control
from repo_driver.creep import DEFAULT_THRESHOLD_PCT, detect_creep
from repo_driver.exec_cache import ExecCache
from repo_driver.git_follower import GONE, REPLACED, SAME, CommitInfo, GitFollower
from repo_driver.harness_runs import Arm, HarnessRuns
from repo_driver.lock import DatabaseLock
from repo_driver.options import DriverOptions
from repo_driver.progress import name, say
from repo_driver.state import (
    BASELINE,
    BENCHMARK,
    BISECT,
    BISECT_RUN,
    BISECTING,
    CONFIRMED,
    MAIN,
    NOT_CONFIRMED,
    VERIFY,
    VERIFYING,
    DriverState,
    Regression,
)
from repo_driver.stopping import EXIT_INTERRUPTED, StopControl, Stopped
from repo_driver.worktrees import Worktrees

EXIT_REGRESSION = 3
CONTROL_ROLE = "control"
_STARTED = ("built", "benchmarking", "done", "regressed")


class Driver:
    def __init__(self, options: DriverOptions, harness_args, stop: StopControl) -> None:
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
        self.runs = HarnessRuns(harness_args, stop.event)
        self.creep_threshold = harness_args.regression_threshold or DEFAULT_THRESHOLD_PCT
        self.base_commit: str | None = None
        self.confirmed: list[int] = []
        self.line: list[str] = []
        self.state: DriverState | None = None
        self.checkout_gone = False

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        """Check what can be checked before the first build, then poll until told to stop (or once)."""
        load_benchmarks(self.runs.harness_args.benchmark_file)
        for platform in self.options.platforms:
            self.builder.script(platform)
        if self.options.base_commit:
            self.base_commit = self.follower.resolve(self.options.base_commit, "--base_commit")
        with DatabaseLock(self.options.db), self._open_state() as state:
            self.state = state
            self.builder.worktrees.clean()
            state.reset_interrupted_builds()
            try:
                while True:
                    if self._checkout_present():
                        self._one_pass_unless_checkout_gone()
                    if self.options.interval is None or self.stop.wait(self.options.interval):
                        break
            except Stopped:
                pass
            if self.stop.interrupted:
                say("interrupted; a restart resumes from the database")
                return EXIT_INTERRUPTED
            if self.stop.event.is_set():
                say(f"stopped: {self.stop.reason}; a restart resumes from the database")
        return EXIT_REGRESSION if self.options.fail_on_regression and self.confirmed else 0

    def _one_pass_unless_checkout_gone(self) -> None:
        """One pass; an error it ends with after a stop, or while the checkout is gone or replaced,
        means only that."""
        try:
            self.one_pass()
        except Stopped:
            raise
        except Exception:
            if self.stop.event.is_set():
                # Ctrl-C reaches the terminal's whole foreground group (systemd's stop, the whole
                # cgroup), so a git command killed by the same signal fails here: that is the stop.
                raise Stopped() from None
            whereabouts = self.follower.whereabouts()
            if whereabouts == SAME:
                raise
            if self.options.interval is None:
                what = "deleted or moved" if whereabouts == GONE else "replaced"
                raise UserError(
                    f"--repo_dir: {self.options.repo_dir} was {what} during the pass; the database keeps"
                    " the driver's state, and a restart goes on from there"
                ) from None
            self._checkout_present()

    def _checkout_present(self) -> bool:
        """True when the checkout is there to work on, reopening it if it came back or was replaced."""
        whereabouts = self.follower.whereabouts()
        if whereabouts == REPLACED or (whereabouts == SAME and self.checkout_gone):
            try:
                self.follower.reopen()
            except UserError:  # e.g. a new clone still being made
                whereabouts = GONE
            else:
                self.builder.worktrees.repo = self.follower.repo
                self.builder.worktrees.clean()
                self.checkout_gone = False
                say(f"{self.options.repo_dir} is there again; going on")
                return True
        if whereabouts == GONE:
            if self.options.interval is None:
                raise UserError(f"--repo_dir: {self.options.repo_dir} is gone (deleted or moved)")
            if not self.checkout_gone:
                self.checkout_gone = True
                say(
                    f"{self.options.repo_dir} is gone (deleted or moved); the database keeps the driver's state;"
                    f" looking for it again every {self.options.interval:g} s"
                )
            return False
        return True

    def one_pass(self) -> None:
        try:
            self.follower.fetch()
        except git.GitCommandError as error:
            self._check_stop()  # a Ctrl-C reaches the fetch too
            detail = (error.stderr or str(error)).strip().splitlines()[-1:] or ["unknown error"]
            say(f"fetch from {self.follower.remote} failed ({detail[0]}); going on with what was fetched before")
        self.line = self.follower.line()
        self.follow()
        for regression in self.state.regressions([BISECTING]):
            self.bisect(regression)
        self.process(self.state.pending())
        for platform in self.options.platforms:
            for alert in detect_creep(self.state, platform, self.creep_threshold):
                say(f"slow creep on {platform}: {alert}")

    @contextmanager
    def _open_state(self) -> Iterator[DriverState]:
        store = ResultStore(self.options.db)
        try:
            yield DriverState(store, self.repo_id, self.options.framework)
        finally:
            store.close()

    # -- following the branch ------------------------------------------------------------

    def follow(self) -> None:
        """Queue every step-th new commit after the cursor; notice and absorb rewritten history."""
        state, line = self.state, self.line
        on_line = set(line)
        gone = [commit for commit, _ in state.known_on_line() if commit not in on_line]
        if gone:
            say(f"history was rewritten (force-push?): {len(gone)} known commit(s) left the branch; dropping them")
            state.orphan(gone)
        cursor = state.cursor()
        if cursor is not None and cursor not in on_line:
            survivors = [commit for commit, _ in state.known_on_line()]
            if survivors:
                cursor = survivors[-1]
                say(f"resuming after {cursor[:10]}, the newest known commit still on the branch")
                state.set_cursor(cursor)
            else:
                cursor = self._restart_at_tip(line)
        if cursor is None:
            cursor = self._start(line)
            if cursor is None:
                return
        new = line[line.index(cursor) + 1 :]
        taken = new[self.options.step - 1 :: self.options.step]
        for commit_hash in taken:
            self._enqueue(commit_hash)
        if taken:
            state.set_cursor(taken[-1])
            say(f"{len(new)} new commit(s) on {self.follower.ref}; queued {len(taken)} (step {self.options.step})")

    def _restart_at_tip(self, line: list[str]) -> str:
        """After a rewrite that left none of the processed commits on the branch (e.g. a force-push
        of an unrelated history), start again at its tip: --commit and --commit_file say where a
        driver with no history starts, and this one has history, now off the branch."""
        tip = line[-1]
        self._enqueue(tip)
        self.state.set_cursor(tip)
        say(
            f"history was rewritten: no commit processed before is on {self.follower.ref} any more;"
            f" starting again at its tip {name(self.follower.info(tip))}"
        )
        return tip

    def _start(self, line: list[str]) -> str | None:
        """Where a driver with no history starts: after --commit_file's commit, or at --commit (default: the tip)."""
        remembered = self._read_commit_file()
        if remembered is not None and remembered in line:
            self.state.set_cursor(remembered)
            say(f"starting after {remembered[:10]}, the last commit {self.options.commit_file} remembers")
            return remembered
        first = self.follower.resolve(self.options.commit, "--commit") if self.options.commit else line[-1]
        if first not in line:
            raise UserError(f"--commit: expected a commit on the first-parent line of {self.follower.ref}, got {first}")
        self._enqueue(first)
        self.state.set_cursor(first)
        say(f"starting at {name(self.follower.info(first))}")
        return first

    def _enqueue(self, commit_hash: str, role: str = MAIN) -> CommitInfo:
        commit = self.follower.info(commit_hash)
        position = self.line.index(commit_hash) if commit_hash in self.line else -1
        if self.state.add_commit(commit, position, role) == "queued" and role == MAIN:
            say(f"{name(commit)}: queued")
        return commit

    def _read_commit_file(self) -> str | None:
        path = self.options.commit_file
        if path is None or not path.is_file():
            return None
        text = path.read_text().strip()
        if not text:
            return None
        try:
            return self.follower.resolve(text, "--commit_file")
        except UserError:
            say(f"{path} names {text[:40]!r}, which the repository does not have (history rewritten?); ignoring it")
            return None

    def _write_commit_file(self, commit_hash: str) -> None:
        path = self.options.commit_file
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text(commit_hash + "\n")
            temporary.replace(path)

    # -- building ------------------------------------------------------------------------

    def process(self, pending: list[CommitInfo]) -> None:
        if not pending:
            return
        if self.options.same_host:
            for commit in pending:
                self._check_stop()
                self._after_build(commit, self.ensure_built(self.state, commit))
            return
        for commit, built in BuildAhead(pending, self.ensure_built, self._open_state):
            self._after_build(commit, built)

    def _after_build(self, commit: CommitInfo, built: bool) -> None:
        if built:
            self.benchmark(commit)
        else:
            self._write_commit_file(commit.hash)

    def ensure_built(self, state: DriverState, commit: CommitInfo) -> bool:
        """Build for every platform unless the cache has it; a commit past `built` keeps its state."""
        before = state.state(commit.hash)
        if before == "build_failed":
            return False
        if before in _STARTED and all(self.cache.has(p, commit) for p in self.options.platforms):
            return True
        fresh = before in (None, "queued", "building")
        if fresh:
            state.set_state(commit.hash, "building")
            say(f"{name(commit)}: building")
        outcomes = [self.builder.build(platform, commit) for platform in self.options.platforms]
        ok = all(outcome.ok for outcome in outcomes)
        with write_transaction(state.db):
            for outcome in outcomes:
                _record_build(state, commit, outcome)
            if fresh:
                state.set_state(commit.hash, "built" if ok else "build_failed")
        for outcome in outcomes:
            took = outcome.ended - outcome.started
            if outcome.ok:
                say(f"{name(commit)}: {outcome.platform} build {outcome.status} in {took:.1f} s")
            else:
                log = self.cache.log(outcome.platform, commit)
                say(f"{name(commit)}: {outcome.platform} build FAILED in {took:.1f} s; skipped (log: {log})")
        return ok

    def arm(self, commit_hash: str, platform: str, role: str = CONTROL_ROLE) -> Arm:
        commit = self.state.commit(commit_hash) or self._enqueue(commit_hash, role)
        if not self.cache.has(platform, commit) and not self.ensure_built(self.state, commit):
            raise UserError(f"control commit {commit_hash[:10]}: expected it to build, but its build failed")
        return Arm(commit, self.cache.program(platform, commit))

    # -- benchmarking --------------------------------------------------------------------

    def benchmark(self, commit: CommitInfo) -> None:
        state = self.state
        for platform in self.options.platforms:
            if state.has_run(commit.hash, platform, (BASELINE, BENCHMARK)):
                continue
            self._check_stop()
            control_hash = self._control(commit) if self.options.ab_testing else None
            control = self.arm(control_hash, platform) if control_hash else None
            treatment = self.arm(commit.hash, platform)
            if state.state(commit.hash) != "benchmarking":
                state.set_state(commit.hash, "benchmarking")
            versus = f"A/B against {name(control.commit)}" if control else "alone"
            say(f"{name(commit)}: benchmarking on {platform} {versus}")
            results = self.runs.run(platform, treatment, control)
            found = verdicts.regressed(results) if control else {}
            keys = [list(key) for key in found]

            def open_regression(platform=platform, control_hash=control_hash, keys=keys, found=found):
                if keys and self.options.regression:
                    state.open_regression(platform, control_hash, commit.hash, keys, _estimates(found))

            role = BENCHMARK if control else BASELINE
            state.save_results(
                results,
                platform=platform,
                commit_hash=commit.hash,
                control_hash=control_hash,
                role=role,
                then=open_regression,
            )
            say(f"{name(commit)}: {platform}: {_summary(results)}")
        for regression in state.regressions([VERIFYING]):
            if regression.bad_hash == commit.hash:
                self.verify(regression)
        regressed = any(
            r.bad_hash == commit.hash and r.state in (BISECTING, CONFIRMED) for r in state.regressions()
        ) or (not self.options.regression and self._flagged(commit))
        state.set_state(commit.hash, "regressed" if regressed else "done")
        self._write_commit_file(commit.hash)
        for regression in state.regressions([BISECTING]):
            if regression.bad_hash == commit.hash:
                self.bisect(regression)

    def _control(self, commit: CommitInfo) -> str | None:
        return choose_control(
            self.state,
            self.follower,
            self.line,
            commit.hash,
            base_commit=self.base_commit,
            weekly_base=self.options.weekly_base,
        )

    def _flagged(self, commit: CommitInfo) -> bool:
        return any(
            verdicts.regressed(self.state.runs_of(commit.hash, platform, BENCHMARK))
            for platform in self.options.platforms
        )

    # -- verification and bisection ------------------------------------------------------

    def verify(self, regression: Regression) -> None:
        """Re-run the pair in the opposite arm order; only what regresses again is confirmed."""
        self._check_stop()
        platform = regression.platform
        bad, good = self.arm(regression.bad_hash, platform), self.arm(regression.good_hash, platform)
        say(f"{name(bad.commit)}: regression in {_names(regression.keys)}; verifying against {good.commit.short}")
        results = self.runs.run(platform, bad, good, run_type="verify")
        again = verdicts.regressed(results)
        confirmed = {name_: again[name_] for name_ in map(tuple, regression.keys) if name_ in again}
        single = self._distance(regression.good_hash, regression.bad_hash) == 1

        def conclude():
            if not confirmed:
                next_state, culprit = NOT_CONFIRMED, None
            else:
                next_state, culprit = (CONFIRMED, regression.bad_hash) if single else (BISECTING, None)
            # The size is the mean of both runs' estimates; a bisection step is judged against it.
            first = regression.estimates
            sizes = {name_: (pct + first.get(verdicts.label(name_), pct)) / 2 for name_, pct in confirmed.items()}
            self.state.update_regression(
                regression.id,
                next_state,
                keys=[list(k) for k in confirmed] or None,
                culprit_hash=culprit,
                estimates=_estimates(sizes) if confirmed else None,
            )
            return next_state

        outcome = self.state.save_results(
            results,
            platform=platform,
            commit_hash=regression.bad_hash,
            control_hash=regression.good_hash,
            role=VERIFY,
            then=conclude,
        )
        if outcome == NOT_CONFIRMED:
            say(f"{name(bad.commit)}: not confirmed by the verify run; no regression reported")
        elif outcome == CONFIRMED:
            self.confirmed.append(regression.id)
            self._announce(regression.id)
        else:
            self.confirmed.append(regression.id)
            say(
                f"{name(bad.commit)}: confirmed over {self._distance(regression.good_hash, regression.bad_hash)}"
                " commits; bisecting"
            )

    def bisect(self, regression: Regression) -> None:
        platform = regression.platform
        if regression.good_hash not in self.line or regression.bad_hash not in self.line:
            return
        names = [tuple(key) for key in regression.keys]
        sizes = {tuple(key.split("|", 1)): value for key, value in regression.estimates.items()}
        while True:
            self._check_stop()
            steps = self.state.bisect_steps(regression.id)
            interval = bisect.interval(
                self.line, regression.good_hash, regression.bad_hash, [(s.hash, s.outcome) for s in steps]
            )
            candidate = interval.next_commit()
            if candidate is None:
                self._finish_bisect(regression, interval, steps)
                return
            commit = self._enqueue(candidate, BISECT)
            good = self.line[interval.good]
            say(f"bisect: {len(interval.suspects)} suspects left; testing {name(commit)} against {good[:10]}")
            if not self.ensure_built(self.state, commit):
                with write_transaction(self.state.db):
                    self.state.add_bisect_step(regression.id, candidate, bisect.SKIP, None)
                say(f"bisect: {commit.short} does not build; skipped")
                continue
            if self.state.state(candidate) == "built":
                self.state.set_state(candidate, "benchmarking")
            outcome, results = self._bisect_step(platform, candidate, good, names, sizes)

            def record(outcome=outcome, candidate=candidate, results=results):
                self.state.add_bisect_step(regression.id, candidate, outcome, results[0].id if results else None)
                self.state.set_state(candidate, "regressed" if outcome == bisect.BAD else "done")

            self.state.save_results(
                results, platform=platform, commit_hash=candidate, control_hash=good, role=BISECT_RUN, then=record
            )
            say(f"bisect: {commit.short} is {outcome}")

    def _bisect_step(self, platform: str, candidate: str, good: str, names, sizes) -> tuple[str, list[RunResult]]:
        """One step's outcome and its runs: a second run in reversed order when the first leaves it open."""
        treatment, control = self.arm(candidate, platform), self.arm(good, platform)
        first = self.runs.run(platform, treatment, control)
        if not all(result.ok for result in first):
            return bisect.SKIP, first
        decided = verdicts.has_regression(first, names)
        if decided is not None:
            return (bisect.BAD if decided else bisect.GOOD), first
        say(f"bisect: {treatment.commit.short} inconclusive; running it again in reversed order")
        second = self.runs.run(platform, treatment, control, run_type="verify")
        if not all(result.ok for result in second):
            return bisect.SKIP, first + second
        decided = verdicts.has_regression(second, names)
        if decided is None:
            decided = verdicts.nearer_regression([first, second], names, sizes)
        return (bisect.BAD if decided else bisect.GOOD), first + second

    def _finish_bisect(self, regression: Regression, interval: bisect.Interval, steps) -> None:
        culprit = interval.culprit
        estimates = regression.estimates
        tested = [s for s in steps if s.hash == culprit and s.outcome == bisect.BAD and s.run_id]
        if tested:
            run = self.state.store.load_run(tested[-1].run_id, include_logs=False)
            found = verdicts.estimates([run])
            estimates = {k: v for k, v in _estimates(found).items() if k in estimates} or estimates
        self.state.update_regression(regression.id, CONFIRMED, culprit_hash=culprit, estimates=estimates)
        if culprit is None:
            say(f"bisect: every commit between could not be built; suspects {', '.join(interval.suspects)}")
        self._announce(regression.id)

    def _announce(self, regression_id: int) -> None:
        regression = next(r for r in self.state.regressions() if r.id == regression_id)
        culprit = self.state.commit(regression.culprit_hash) if regression.culprit_hash else None
        where = name(culprit) if culprit else f"one of {regression.good_hash[:10]}..{regression.bad_hash[:10]}"
        sizes = ", ".join(f"{key.split('|', 1)[1]} {value:+.1f}%" for key, value in regression.estimates.items())
        say(f"CONFIRMED REGRESSION on {regression.platform}: culprit {where}: {sizes}")

    def _distance(self, good: str, bad: str) -> int:
        return self.line.index(bad) - self.line.index(good)

    def _check_stop(self) -> None:
        if self.stop.event.is_set():
            raise Stopped()


def _record_build(state: DriverState, commit: CommitInfo, outcome: BuildOutcome) -> None:
    state.store.record_build(
        state.repo,
        state.framework,
        commit.hash,
        outcome.platform,
        outcome.status,
        program=str(outcome.program) if outcome.program else None,
        log=outcome.log,
        started=outcome.started,
        ended=outcome.ended,
    )


def _estimates(found: dict[verdicts.MetricName, float]) -> dict[str, float]:
    return {verdicts.label(key): value for key, value in found.items()}


def _names(keys: list[list[str]]) -> str:
    return ", ".join(key for _, key in keys)


def _summary(results: list[RunResult]) -> str:
    parts = []
    for result in results:
        if not result.ok:
            parts.append(f"{result.meta.get('identifier')}: FAILED ({result.failure})")
            continue
        for key, metric in result.data.items():
            comparison = metric.comparison
            if comparison and (key.startswith("NET") or comparison.verdict is Verdict.REGRESSION):
                estimate = comparison.estimate_pct
                change = "unmeasurable" if estimate is None else f"{estimate:+.1f}%"
                parts.append(f"{key} {change} {comparison.verdict.value}")
        if not any(metric.comparison for metric in result.data.values()):
            net = result.data.get("NET latency")
            parts.append(f"NET p50 {net.summary['p50']:.1f} {net.unit}" if net else "no NET")
    return "; ".join(parts) or "no results"
