"""Results to a results server, with an on-disk outbox so that none is lost or sent twice.

Every result is written to the outbox before it is sent and removed only after the
server said 201 or 200, so a crash, a dead server or a timeout at any moment leaves the
result on disk; the next attempt re-sends it and the server's idempotency on the
result id absorbs the repeat. The queue is always sent oldest first, which also means
results queued by an earlier run go out before this run's. A server that cannot be
reached stops the sending, so the queue keeps its order; a server that answers but
fails on one record (a 5xx) only sends that record to the back (see quarantine_policy).
A disk that cannot take the outbox file does not stop the result either: it is sent
from memory, and only a result neither queued nor delivered counts as undelivered.
"""

from __future__ import annotations

import contextlib
import errno
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from aipep_core.errors import UserError
from aipep_core.result_record import RunResult
from aipep_core.strict_json import strict_json
from harness.reporters.base import Reporter
from harness.reporters.outbox import CorruptEntry, Entry, Failures, Outbox, default_outbox_dir
from harness.reporters.quarantine_policy import QuarantinePolicy
from harness.reporters.results_server import (
    ACCESS_TOKEN_ENV,
    SINGLE_ATTEMPT,
    Answer,
    Outcome,
    ResultsServer,
    RetryPolicy,
    Timeouts,
    check_server_url,
    check_token,
)
from harness.reporters.undelivered import Undelivered
from harness.store.result_store import normal_run_id

# mkdir errors that say the path itself is wrong, not the disk it is on.
NOT_A_FOLDER = frozenset({errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP})
# A server that failed on this many records in a row is in trouble as a whole.
FAILURES_IN_A_ROW = 3


def remote_reporter(
    url: str,
    token: str | None,
    outbox_dir: Path | None = None,
    undelivered: Undelivered | None = None,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
    quarantine: QuarantinePolicy | None = None,
) -> RemoteReporter:
    """Check the flags before anything runs: a bad URL or a missing token is a one-line mistake, not 401s later.

    An outbox path that cannot be a folder is such a mistake too; a disk that is full or
    read-only is not, so the run goes on and sends its results without a copy on disk.
    """
    url = check_server_url(url)
    server = ResultsServer(url, check_token(token), timeouts)
    outbox = Outbox(outbox_dir if outbox_dir is not None else default_outbox_dir(url))
    try:
        outbox.pending_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        if error.errno in NOT_A_FOLDER:
            raise UserError(f"--remote_outbox: cannot create {outbox.pending_dir}: {error.strerror}") from None
        _say(f"cannot create {outbox.pending_dir} ({error.strerror}); results are sent without a copy on disk")
    return RemoteReporter(server, outbox, undelivered if undelivered is not None else Undelivered(), retry, quarantine)


class RemoteReporter(Reporter):
    def __init__(
        self,
        server: ResultsServer,
        outbox: Outbox,
        undelivered: Undelivered,
        retry: RetryPolicy | None = None,
        quarantine: QuarantinePolicy | None = None,
    ) -> None:
        self.server = server
        self.outbox = outbox
        self.undelivered = undelivered
        self.retry = retry or RetryPolicy()
        self.quarantine = quarantine or QuarantinePolicy()
        self.reachable = True
        self.token_refused = False
        self.this_run: set[str] = set()
        self.fresh: set[str] = set()
        self.in_memory: dict[str, Entry] = {}
        self.failing: dict[str, tuple[Entry, Failures]] = {}
        self.told_corrupt: set[Path] = set()
        self.delivered = 0
        self.delivered_from_queue = 0

    def deliver_queued(self) -> None:
        """Send what earlier runs could not, before this run adds to it."""
        self._send_pending()

    def report(self, result: RunResult) -> None:
        document = result.to_json()
        result_id = document["id"] = normal_run_id(result.id)
        if self.token_refused:
            self.undelivered.token_refused.append(result_id)
            return
        body = strict_json(document)
        try:
            self.outbox.put(result_id, body)
        except OSError as error:
            self.in_memory[result_id] = Entry(id=result_id, body=body, path=None)
            _say(
                f"{self.outbox.pending_dir}: cannot queue result {result_id} ({error.strerror or error}); "
                "it is sent without a copy on disk"
            )
        self.this_run.add(result_id)
        self.fresh.add(result_id)
        self._send_pending()

    def close(self) -> None:
        try:
            if not self.token_refused:
                self._send_pending()
            self._say_delivered()
            self._say_failing()
            self._say_lost()
            waiting = len(self.outbox.queued())
            if waiting:
                verb = "waits" if waiting == 1 else "wait"
                _say(
                    f"{_count(waiting, 'result')} {verb} in {self.outbox.pending_dir} for {self.server.url}; "
                    "the next run with this --remote_reporter delivers the queue"
                )
        finally:
            self.server.close()

    def _send_pending(self) -> None:
        """Send the queue oldest first, then what only memory holds, then what the server failed on before.

        Trouble with the server as a whole (no answer, 502/503/504, several failures in
        a row) stops the sending, so the queue keeps its order. While the server is known
        to be down each call tries once, without waiting between retries, so an outage
        costs a run one refused connection per result. A record the server failed on is
        tried once per run, after the others, so it never holds them back.
        """
        failed_in_a_row = 0
        try:
            for entry in self._entries():
                outcome = self.server.post(entry.body, self.retry if self.reachable else SINGLE_ATTEMPT)
                if outcome.answer is Answer.TOKEN_REFUSED:
                    self._refuse_token(outcome)
                    return
                if outcome.answer is Answer.TROUBLE:
                    self._lose_server(outcome)
                    return
                self.reachable = True
                if outcome.answer is Answer.FAILED_ON_RECORD:
                    self._failed_on(entry, outcome)
                    failed_in_a_row += 1
                    if failed_in_a_row >= FAILURES_IN_A_ROW:
                        self._lose_server(outcome)
                        return
                    continue
                failed_in_a_row = 0
                if outcome.answer is Answer.STORED:
                    self._stored(entry)
                else:
                    self._rejected(entry, outcome)
        finally:
            self._quarantine_hopeless()

    def _entries(self) -> Iterator[Entry]:
        """Queue files oldest first (damaged ones moved aside), then results the disk did not take,
        then files the server failed on in earlier runs; none that failed in this run."""
        failed_before = []
        for path in self.outbox.queued():
            if self.outbox.has_failures(path):
                failed_before.append(path)
            else:
                yield from self._load(path)
        yield from list(self.in_memory.values())
        for path in failed_before:
            yield from self._load(path)

    def _load(self, path: Path) -> Iterator[Entry]:
        try:
            entry = self.outbox.load(path)
        except CorruptEntry as error:
            self._set_aside(path, error)
            return
        if entry is not None and entry.id not in self.failing:
            yield entry

    def _set_aside(self, path: Path, error: CorruptEntry) -> None:
        try:
            where = f"moved to {self.outbox.set_aside(path)}"
        except OSError as move_error:
            where = f"left in place, it cannot be moved ({move_error.strerror or move_error})"
        if path not in self.told_corrupt:
            self.told_corrupt.add(path)
            _say(f"{path}: not a queued result ({error}); {where}")

    def _stored(self, entry: Entry) -> None:
        # A file the disk will not let go of is sent again by the next run, and the server answers 200.
        with contextlib.suppress(OSError):
            self.outbox.delivered(entry)
        self.in_memory.pop(entry.id, None)
        self.failing.pop(entry.id, None)
        self.delivered += 1
        if entry.id not in self.fresh:
            self.delivered_from_queue += 1
        self.fresh.discard(entry.id)
        self.this_run.discard(entry.id)

    def _rejected(self, entry: Entry, outcome: Outcome) -> None:
        try:
            kept = f"kept in {self.outbox.reject(entry, self.server.url, outcome.status or 0, outcome.reason)}"
        except OSError as error:
            kept = f"it could not be kept in {self.outbox.rejected_dir} ({error.strerror or error})"
        self.in_memory.pop(entry.id, None)
        self.failing.pop(entry.id, None)
        self.fresh.discard(entry.id)
        self.this_run.discard(entry.id)
        self.undelivered.rejected.append(entry.id)
        _say(
            f"{self.server.url} rejected result {entry.id} ({outcome.status}: {outcome.reason}); "
            f"it is not sent again, {kept}"
        )

    def _failed_on(self, entry: Entry, outcome: Outcome) -> None:
        """Count the failure beside the file; a result only memory holds just stays there."""
        if entry.path is None:
            return
        failures = self.outbox.count_failure(entry.id, outcome.status or 0, outcome.reason, time.time())
        self.failing[entry.id] = (entry, failures)

    def _quarantine_hopeless(self) -> None:
        """Only once the server took another result in this run is a record it keeps failing on the trouble."""
        if not self.delivered:
            return
        for result_id, (entry, failures) in list(self.failing.items()):
            if not self.quarantine.gives_up(failures):
                continue
            try:
                target = self.outbox.quarantine(entry, self.server.url, failures)
            except OSError:
                continue
            del self.failing[result_id]
            self.fresh.discard(result_id)
            self.this_run.discard(result_id)
            self.undelivered.quarantined.append(result_id)
            _say(
                f"{self.server.url} failed on result {result_id} {failures.count} times since "
                f"{_clock(failures.first)} while taking other results ({failures.status}: {failures.reason}); "
                f"it is not sent again, kept in {target}"
            )

    def _refuse_token(self, outcome: Outcome) -> None:
        """This run's results leave the queue (the local store has them); earlier runs' stay for a good token."""
        self.token_refused = True
        for result_id in sorted(self.this_run):
            # A file the disk will not let go of is sent, with a good token, by a later run.
            with contextlib.suppress(OSError):
                self.outbox.remove(result_id)
            self.in_memory.pop(result_id, None)
            self.undelivered.token_refused.append(result_id)
        self.this_run.clear()
        self.fresh.clear()
        _say(
            f"{self.server.url} refused the access token ({outcome.status}: {outcome.reason}); "
            f"this run's results are not sent (the local store keeps them): "
            f"check --remote_access_token or {ACCESS_TOKEN_ENV}"
        )

    def _lose_server(self, outcome: Outcome) -> None:
        self.fresh.clear()
        if self.reachable:
            status = f"{outcome.status}: " if outcome.status is not None else ""
            _say(
                f"{self.server.url}: cannot deliver results ({status}{outcome.reason}); "
                f"they wait in {self.outbox.pending_dir}"
            )
        self.reachable = False

    def _say_delivered(self) -> None:
        """One line per run, so a person can tell that delivery worked without asking the server."""
        if self.delivered:
            earlier = f" ({self.delivered_from_queue} queued earlier)" if self.delivered_from_queue else ""
            _say(f"results server: delivered {_count(self.delivered, 'result')} to {self.server.url}{earlier}")
            self.delivered = self.delivered_from_queue = 0

    def _say_failing(self) -> None:
        for result_id, (_, failures) in sorted(self.failing.items()):
            _say(
                f"{self.server.url} failed on result {result_id} ({failures.status}: {failures.reason}), "
                f"{_count(failures.count, 'time')} so far; it waits in {self.outbox.pending_dir} behind the others"
            )

    def _say_lost(self) -> None:
        if self.in_memory:
            lost = sorted(self.in_memory)
            self.undelivered.not_queued.extend(lost)
            _say(
                f"{_count(len(lost), 'result')} could not be queued in {self.outbox.pending_dir} "
                f"nor delivered to {self.server.url}: {', '.join(lost)}; only the other reporters have them"
            )
            self.in_memory.clear()


def _say(line: str) -> None:
    print(f"harness: {line}", file=sys.stderr, flush=True)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).isoformat(sep=" ", timespec="seconds")
