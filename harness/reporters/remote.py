"""Results to a results server, with an on-disk outbox so that none is lost or sent twice.

Every result is written to the outbox before it is sent and removed only after the
server said 201 or 200, so a crash, a dead server or a timeout at any moment leaves the
result on disk; the next attempt re-sends it and the server's idempotency on the
result id absorbs the repeat. The queue is always sent oldest first, which also means
results queued by an earlier run go out before this run's.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import UserError
from harness.reporters.base import Reporter
from harness.reporters.outbox import CorruptEntry, Entry, Outbox, default_outbox_dir
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
from harness.reporters.strict_json import strict_json
from harness.reporters.undelivered import Undelivered
from harness.result import RunResult


def remote_reporter(
    url: str,
    token: str | None,
    outbox_dir: Path | None = None,
    undelivered: Undelivered | None = None,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
) -> RemoteReporter:
    """Check the flags before anything runs: a bad URL or a missing token is a one-line mistake, not 401s later."""
    url = check_server_url(url)
    server = ResultsServer(url, check_token(token), timeouts)
    outbox = Outbox(outbox_dir if outbox_dir is not None else default_outbox_dir(url))
    try:
        outbox.pending_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--remote_outbox: cannot create {outbox.pending_dir}: {error.strerror}") from None
    return RemoteReporter(server, outbox, undelivered if undelivered is not None else Undelivered(), retry)


class RemoteReporter(Reporter):
    def __init__(
        self, server: ResultsServer, outbox: Outbox, undelivered: Undelivered, retry: RetryPolicy | None = None
    ) -> None:
        self.server = server
        self.outbox = outbox
        self.undelivered = undelivered
        self.retry = retry or RetryPolicy()
        self.reachable = True
        self.token_refused = False
        self.this_run: set[str] = set()
        self.fresh: set[str] = set()
        self.delivered_from_queue = 0

    def deliver_queued(self) -> None:
        """Send what earlier runs could not, before this run adds to it."""
        self._send_pending()
        self._say_delivered()

    def report(self, result: RunResult) -> None:
        if self.token_refused:
            self.undelivered.token_refused.append(result.id)
            return
        self.outbox.put(result.id, strict_json(result.to_json()))
        self.this_run.add(result.id)
        self.fresh.add(result.id)
        self._send_pending()

    def close(self) -> None:
        try:
            if not self.token_refused:
                self._send_pending()
            self._say_delivered()
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
        """Send the queue oldest first; stop at the first sign of trouble, since the rest would fare no better.

        While the server is known to be down each call tries once, without waiting
        between retries, so an outage costs a run one refused connection per result.
        """
        for path in self.outbox.queued():
            try:
                entry = self.outbox.load(path)
            except CorruptEntry as error:
                target = self.outbox.set_aside(path)
                _say(f"{path}: not a queued result ({error}); moved to {target}")
                continue
            if entry is None:
                continue
            outcome = self.server.post(entry.body, self.retry if self.reachable else SINGLE_ATTEMPT)
            if outcome.answer is Answer.TOKEN_REFUSED:
                self._refuse_token(outcome)
                return
            if outcome.answer is Answer.TROUBLE:
                self._lose_server(outcome)
                return
            self.reachable = True
            if outcome.answer is Answer.STORED:
                self._stored(entry)
            else:
                self._rejected(entry, outcome)

    def _stored(self, entry: Entry) -> None:
        entry.path.unlink(missing_ok=True)
        if entry.id not in self.fresh:
            self.delivered_from_queue += 1
        self.fresh.discard(entry.id)
        self.this_run.discard(entry.id)

    def _rejected(self, entry: Entry, outcome: Outcome) -> None:
        target = self.outbox.reject(entry, self.server.url, outcome.status or 0, outcome.reason)
        self.fresh.discard(entry.id)
        self.this_run.discard(entry.id)
        self.undelivered.rejected.append(entry.id)
        _say(
            f"{self.server.url} rejected result {entry.id} ({outcome.status}: {outcome.reason}); "
            f"it is not sent again, kept in {target}"
        )

    def _refuse_token(self, outcome: Outcome) -> None:
        """This run's results leave the queue (the local store has them); earlier runs' stay for a good token."""
        self.token_refused = True
        for result_id in sorted(self.this_run):
            self.outbox.remove(result_id)
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
        if self.delivered_from_queue:
            _say(f"delivered {_count(self.delivered_from_queue, 'queued result')} to {self.server.url}")
            self.delivered_from_queue = 0


def _say(line: str) -> None:
    print(f"harness: {line}", file=sys.stderr, flush=True)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
