"""Waitress's server and channel, made to hold their own against clients that connect and stall.

Waitress reads requests in one event loop and hands only complete ones to its threads,
so a stalled client holds a connection, never a thread; what runs out is the number of
connections. Its default stops accepting at 100 open ones, and a connection that sent
half a header is only dropped after two idle minutes, so 120 silent clients locked
everyone else out. Three rules keep room for real clients:

* at the connection limit, the connection that has been idle longest (no request being
  served, nothing left to send) is closed to make room, so a flood of stalled clients
  pushes out its own oldest members rather than anyone who is talking;
* a request's header must arrive within `header_seconds` of its first byte, and the
  whole request within `request_seconds`, so trickling a byte at a time does not help;
* a connection with nothing in flight is closed after `idle_seconds`.

The loop uses poll(), not select(), which cannot watch descriptors numbered 1024 or more.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

from waitress.server import TcpWSGIServer

from server.waitress_json_errors import JsonErrorChannel

# Descriptors the process needs besides client connections: database, logs, the loop's trigger.
SPARE_DESCRIPTORS = 64


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 1000
    header_seconds: float = 20.0
    request_seconds: float = 300.0
    idle_seconds: int = 60


class GuardedChannel(JsonErrorChannel):
    """One connection; remembers when the request being received began."""

    request_started = 0.0
    _timed_request = None

    def received(self, data: bytes) -> bool:
        done = super().received(data)
        if self.request is not None and self.request is not self._timed_request:
            self._timed_request = self.request
            self.request_started = time.monotonic()
        return done

    def is_idle(self) -> bool:
        """Nothing being served or sent: closing it loses no answer."""
        return not (self.requests or self.will_close or self.close_when_flushed or self.total_outbufs_len)

    def overdue(self, now: float, limits: ConnectionLimits) -> bool:
        request = self.request
        if request is None or self.requests:
            return False
        allowed = limits.request_seconds if request.headers_finished else limits.header_seconds
        return now - self.request_started > allowed


class GuardedServer(TcpWSGIServer):
    channel_class = GuardedChannel
    limits = ConnectionLimits()

    def readable(self) -> bool:
        if self.accepting and len(self._map) >= self.adj.connection_limit - 1:
            self._make_room()
        return super().readable()

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        monotonic = time.monotonic()
        for channel in list(self.active_channels.values()):
            if isinstance(channel, GuardedChannel) and channel.overdue(monotonic, self.limits):
                channel.will_close = True

    def _make_room(self) -> None:
        channels = list(self.active_channels.values())
        if any(channel.will_close for channel in channels):
            return
        idle = [channel for channel in channels if isinstance(channel, GuardedChannel) and channel.is_idle()]
        if idle:
            min(idle, key=lambda channel: channel.last_activity).will_close = True
            self.trigger.pull_trigger()


def connection_limit(requested: int) -> int:
    """As many connections as asked for, raising the open-files limit when the system allows, else fewer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = requested + SPARE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = raised
    return requested if soft == resource.RLIM_INFINITY else max(1, min(requested, soft - SPARE_DESCRIPTORS))
