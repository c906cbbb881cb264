"""How large one result record may be, in the record's own terms rather than only in bytes.

A byte limit alone lets a small body cost a lot: 16 MiB of `0,` is 8 million samples,
each a database row. So samples are capped per list and per record (answered 413), and
names, which every page and listing repeats and PostgreSQL indexes, are capped in
characters (answered 400). Each cap is far above what the harness produces: a list holds
one metric's iterations of every round, and a real A/B run of a hundred operators stays
well under the per-record cap. Names stay short enough that four of them, even in
four-byte characters, fit one PostgreSQL index entry.
"""

from __future__ import annotations

MAX_NAME_CHARACTERS = 128
MAX_KEY_CHARACTERS = 256
MAX_TEXT_CHARACTERS = 65_536
MAX_NESTING = 32
MAX_ROUNDS = 1_000_000
MAX_METRICS_PER_RECORD = 10_000
MAX_SAMPLES_PER_LIST = 100_000
MAX_SAMPLES_PER_RECORD = 1_000_000
