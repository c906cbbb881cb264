"""What one client may cost the server, set by `aipep-server serve` flags.

Reads are open to anyone who can reach the server and writes need only a token, so
each client address gets a request rate and each token a number of samples per hour:
one busy script or one leaked token slows only itself and cannot fill the disk. A
listing stops at a byte budget and says where the next page starts, so no single
request makes the server hold or send an unbounded answer. Zero turns a rate limit off
(for a server behind a proxy that limits, where every client has the proxy's address).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REQUESTS_PER_MINUTE = 600
DEFAULT_SAMPLES_PER_TOKEN_HOUR = 20_000_000
DEFAULT_LISTING_BYTES = 4 * 1024 * 1024
DEFAULT_REGRESSIONS_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class ClientLimits:
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    samples_per_token_hour: int = DEFAULT_SAMPLES_PER_TOKEN_HOUR
    listing_bytes: int = DEFAULT_LISTING_BYTES
    regressions_cache_seconds: float = DEFAULT_REGRESSIONS_CACHE_SECONDS
