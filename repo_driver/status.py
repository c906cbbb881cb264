"""`repo_driver status`: the queue, the last verdicts and open regressions, read from the database.

It reads only, takes no lock, and works while the service runs (the database is in WAL
mode, so reading never blocks the service's writes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from aipep_core.errors import UserError
from aipep_core.user_dirs import data_dir
from aipep_core.verdict import Verdict
from harness.store.result_store import ResultStore

QUEUE_STATES = ("queued", "building", "built", "benchmarking")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="repo_driver status", description="Where the repo driver stands.", allow_abbrev=False
    )
    parser.add_argument("--db", type=Path, default=data_dir() / "aipep.db", help="the driver's SQLite database")
    parser.add_argument("--last", type=int, default=10, help="how many recent verdicts to show")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        raise UserError(f"--db: expected an aipep database, got no file at {args.db}")
    with ResultStore(args.db) as store:
        print_status(store.db, args.last, sys.stdout)
    return 0


def print_status(db, last: int, out: TextIO) -> None:
    if "driver_commits" not in db.table_names():
        print("no repo driver has used this database yet", file=out)
        return
    marks = ", ".join("?" for _ in QUEUE_STATES)
    queue = db.execute(
        "SELECT c.hash, c.state, c.subject, c.repo FROM commits c JOIN driver_commits d"
        " ON d.repo = c.repo AND d.framework = c.framework AND d.hash = c.hash"
        f" WHERE d.orphaned = 0 AND c.state IN ({marks}) ORDER BY c.repo, d.position",
        list(QUEUE_STATES),
    ).fetchall()
    print(f"queue: {len(queue)} commit(s)", file=out)
    for commit_hash, state, subject, _ in queue:
        print(f"  {commit_hash[:10]} {state:<12} {subject}", file=out)
    counts = dict(db.execute("SELECT state, count(*) FROM commits GROUP BY state").fetchall())
    print("commits by state: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"), file=out)
    print(f"last verdicts (newest first, up to {last}):", file=out)
    rows = db.execute(
        "SELECT r.run_id, r.hash, r.control_hash, r.role, r.platform, r.ok FROM driver_runs r"
        " WHERE r.role != 'baseline' ORDER BY r.saved_at DESC LIMIT ?",
        [last],
    ).fetchall()
    for run_id, commit_hash, control_hash, role, platform, ok in rows:
        flagged = db.execute(
            "SELECT key, estimate_pct, verdict FROM comparisons WHERE run = ?"
            " AND (key LIKE 'NET %' OR verdict = ?) ORDER BY key",
            [run_id, Verdict.REGRESSION.value],
        ).fetchall()
        verdict_text = "; ".join(f"{key} {pct:+.1f}% {verdict}" for key, pct, verdict in flagged) if ok else "FAILED"
        versus = f"vs {control_hash[:10]}" if control_hash else "alone"
        print(f"  {commit_hash[:10]} {versus} {role:<9} {platform}: {verdict_text}", file=out)
    regressions = list(
        db.query("SELECT * FROM driver_regressions WHERE state IN ('verifying', 'bisecting', 'confirmed') ORDER BY id")
    )
    print(f"open regressions: {len(regressions)}", file=out)
    for regression in regressions:
        estimates = json.loads(regression["estimates"] or "{}")
        sizes = ", ".join(f"{key.split('|', 1)[1]} {value:+.1f}%" for key, value in estimates.items())
        culprit = (regression["culprit_hash"] or "")[:10] or "not yet named"
        span = f"{regression['good_hash'][:10]}..{regression['bad_hash'][:10]}"
        print(f"  #{regression['id']} {regression['state']:<10} {span} culprit {culprit}: {sizes}", file=out)
    creep = list(db.query("SELECT * FROM driver_creep ORDER BY detected_at"))
    if creep:
        print(f"slow creep alerts: {len(creep)}", file=out)
        for alert in creep:
            where = f"from {alert['change_hash'][:10]}"
            print(f"  {alert['key']} ({alert['identifier']}) {alert['shift_pct']:+.1f}% {where}", file=out)
