"""The Celery application the submitter and every worker share, configured once here.

Jobs cross hosts, so the message format is JSON only: a pickled message would run code of
whoever can write to the broker. A job is acknowledged only after it ran (late ack), and a
worker holds one message per device (prefetch 1), so a worker that dies mid-job leaves the
message unacknowledged and the broker gives it to another worker of the same kind once the
visibility timeout passes (a live worker renews its running job's message, so that a long
job is never given out twice). Results (the job's exit status and result ids) go back through
the broker's own store, so a Redis broker is all a lab needs.
"""

from __future__ import annotations

from celery import Celery

RUN_JOB_TASK = "aipep.lab.run_job"
# The state of a job its worker runs, with where it runs (and the round it is at) as its meta.
RUNNING = "RUNNING"
# Results of finished jobs are kept this long for `submit --wait` to read; their records
# live on the results server regardless.
RESULT_EXPIRES_S = 7 * 24 * 3600
# A running job's worker renews its message (message_lease.py), so this bounds only how long the job
# of a worker that died waits before another worker takes it.
DEFAULT_VISIBILITY_TIMEOUT_S = 300.0


def lab_app(broker_url: str, visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S) -> Celery:
    """The app on `broker_url`; for Redis the same URL keeps the job states, otherwise Celery's rpc backend."""
    backend = broker_url if broker_url.startswith(("redis://", "rediss://", "unix://")) else "rpc://"
    app = Celery("aipep-lab", broker=broker_url, backend=backend, set_as_current=False)
    transport = {"visibility_timeout": visibility_timeout_s}
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=1,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        result_expires=RESULT_EXPIRES_S,
        result_extended=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        task_create_missing_queues=True,
    )
    return app
