"""Profile sweeps in SQLite: every measured point and every fit, so sweeps can be compared later.

Each sweep writes in one transaction: an interrupted sweep leaves nothing half-written.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from harness.profile.fit import QuotaFit
from harness.profile.sweep import ProfilePoint

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profile_sweeps (id INTEGER PRIMARY KEY, started REAL NOT NULL, specs TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profile_points (
    sweep_id INTEGER NOT NULL REFERENCES profile_sweeps(id), spec TEXT NOT NULL, model TEXT NOT NULL,
    test TEXT NOT NULL, cpus REAL, memory_mb INTEGER, p50_us REAL, mean_us REAL, peak_rss_mb REAL,
    throughput_per_s REAL,
    failure TEXT
);
CREATE TABLE IF NOT EXISTS profile_fits (
    sweep_id INTEGER NOT NULL REFERENCES profile_sweeps(id), model TEXT NOT NULL, test TEXT NOT NULL,
    memory_mb INTEGER, a_us REAL NOT NULL, b_us_cpus REAL NOT NULL, r_squared REAL, points INTEGER NOT NULL,
    predict_cpus REAL, predicted_us REAL
);
"""


def save_sweep(
    database: Path,
    specs: Sequence[str],
    points: Sequence[ProfilePoint],
    fits: dict[tuple[str, str, int | None], QuotaFit],
    predict_cpus: float | None,
) -> int:
    """Write one sweep; its id."""
    database.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(database)
    try:
        with connection:
            connection.executescript(_SCHEMA)
            sweep_id = connection.execute(
                "INSERT INTO profile_sweeps (started, specs) VALUES (?, ?)", (time.time(), "\n".join(specs))
            ).lastrowid
            connection.executemany(
                "INSERT INTO profile_points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        sweep_id,
                        p.spec,
                        p.model,
                        p.test,
                        p.cpus,
                        p.memory_mb,
                        p.p50_us,
                        p.mean_us,
                        p.peak_rss_mb,
                        p.throughput_per_s,
                        p.failure,
                    )
                    for p in points
                ],
            )
            connection.executemany(
                "INSERT INTO profile_fits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        sweep_id,
                        model,
                        test,
                        memory_mb,
                        fit.a,
                        fit.b,
                        fit.r_squared,
                        fit.points,
                        predict_cpus,
                        None if predict_cpus is None else fit.predict(predict_cpus),
                    )
                    for (model, test, memory_mb), fit in fits.items()
                ],
            )
        return sweep_id
    finally:
        connection.close()
