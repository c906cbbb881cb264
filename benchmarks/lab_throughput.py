"""How many jobs an hour the device lab gets through, and how long a job waits to start.

Figures, with a real redis-server, the real results server, and real `aipep-lab worker`
processes serving host devices, on a short spec (one test, a shell program printing five
measurements):

* jobs per hour with 1, 2 and 4 workers of one kind, for a batch of jobs queued at once
  (the scaling; on a machine with fewer cores than workers the benchmark processes compete);
* dispatch latency, from the moment a job is sent to the moment its worker starts it
  (`started_at` in the job's state), p50 and p99, for jobs sent one at a time to an idle
  worker. Goal: p50 under 1 s.

The workers' start is not counted; jobs are sent the way `aipep-lab submit` sends them,
with their files uploaded once.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from aipep_core.job import Arm, Arms, Job  # noqa: E402
from lab.celery_app import RUN_JOB_TASK, lab_app  # noqa: E402
from lab.lab_job import Uploader, job_for_lab  # noqa: E402
from tests.lab.lab_processes import Lab  # noqa: E402
from tests.lab.redis_server import start_redis  # noqa: E402
from tests.lab.test_lab import write_program, write_spec  # noqa: E402
from tests.server.server_thread import ServerThread  # noqa: E402

DONE_TIMEOUT_S = 600.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs_per_worker", type=int, default=8, help="jobs in each batch, per worker")
    parser.add_argument("--latency_jobs", type=int, default=30, help="jobs sent one at a time for the latency")
    parser.add_argument("--workers", default="1,2,4", help="comma list of worker counts")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aipep-lab-throughput-") as scratch:
        directory = Path(scratch)
        broker = start_redis(directory)
        try:
            with ServerThread(f"sqlite:///{directory / 'results.db'}") as server:
                lab = Lab(broker.url, server.url, server.token, directory / "lab")
                lab.directory.mkdir()
                try:
                    run(lab, directory, args)
                finally:
                    lab.stop_all()
        finally:
            broker.stop()
    return 0


def run(lab: Lab, directory: Path, args: argparse.Namespace) -> None:
    program = write_program(directory)
    spec = write_spec(directory, directory / "markers", {"short": 0})
    job = Job(specs=(str(spec),), arms=Arms(Arm("treatment", program=str(program))), framework="generic")
    template = job_for_lab(job, Uploader(lab.server_url, lab.token), "template")
    app = lab_app(lab.broker_url)
    print("workers  jobs  seconds  jobs/hour")
    for count in (int(part) for part in args.workers.split(",")):
        kind = f"bench-{count}"
        started = [lab.start_worker(f"{kind}-{index}", kind) for index in range(count)]
        # A first batch before the clock starts: every worker is up and has its files cached.
        _send_and_wait(app, template, kind, count)
        jobs = count * args.jobs_per_worker
        begin = time.monotonic()
        _send_and_wait(app, template, kind, jobs)
        seconds = time.monotonic() - begin
        print(f"{count:7d}  {jobs:4d}  {seconds:7.2f}  {jobs * 3600 / seconds:9.0f}", flush=True)
        for process in started:
            process.terminate()
            process.wait(timeout=60)
    kind = "bench-latency"
    lab.start_worker("latency-0", kind)
    _send_and_wait(app, template, kind, 1)
    latencies = []
    for _ in range(args.latency_jobs):
        sent_at = time.time()
        (answer,) = _send_and_wait(app, template, kind, 1)
        latencies.append(answer["started_at"] - sent_at)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(
        f"dispatch latency over {len(latencies)} jobs: p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms"
    )


def _send_and_wait(app, template: Job, kind: str, jobs: int) -> list[dict]:
    results = []
    for _ in range(jobs):
        job_id = uuid.uuid4().hex
        text = dataclasses.replace(template, job_id=job_id).to_json()
        results.append(app.send_task(RUN_JOB_TASK, args=[text], queue=kind, task_id=job_id))
    answers = [result.get(timeout=DONE_TIMEOUT_S) for result in results]
    failed = [answer for answer in answers if answer.get("exit_status") != 0]
    if failed:
        raise SystemExit(f"lab_throughput: a job failed: {failed[0]}")
    return answers


if __name__ == "__main__":
    sys.exit(main())
