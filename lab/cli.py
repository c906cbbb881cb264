"""`aipep-lab`: the device lab's command line (`worker`, `submit`, `status`).

`submit` takes the harness's flags, except that `--devices` names a device kind (the queue)
and `--timeout` bounds the wait; the harness's per-process timeout is `--process_timeout`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kombu.exceptions import OperationalError

from aipep_core.errors import UserError
from aipep_core.job import RemoteReporter
from aipep_core.user_dirs import cache_dir
from harness.cli_args import build_parser, job_from_flags
from harness.reporters.results_server import ACCESS_TOKEN_ENV
from lab.broker_url import shown_broker_url
from lab.celery_app import DEFAULT_VISIBILITY_TIMEOUT_S, lab_app
from lab.device_health import HealthLimits
from lab.lab_device import device_kind, parse_device
from lab.lab_job import Uploader, WorkerSetup
from lab.lab_status import lab_status, status_lines
from lab.submit import Submission, submit
from lab.worker import WorkerOptions, serve
from platforms.option_flags import add_option_flags, given_options

DEFAULT_HEALTH_INTERVAL_S = 30.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UserError(f"command line: {message}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if not argv or argv[0] not in ("worker", "submit", "status"):
            if argv and argv[0] in ("-h", "--help"):
                print("usage: aipep-lab {worker,submit,status} ...  (aipep-lab COMMAND --help)")
                return 0
            raise UserError("command line: expected a command, worker, submit or status")
        if argv[0] == "worker":
            return _worker(argv[1:])
        if argv[0] == "status":
            return _status(argv[1:])
        return _submit(argv[1:])
    except UserError as error:
        print(f"aipep-lab: error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("aipep-lab: interrupted", file=sys.stderr)
        return 130


def _worker(argv: list[str]) -> int:
    parser = _Parser(prog="aipep-lab worker", allow_abbrev=False, description="Serve one device's queue.")
    parser.add_argument("--broker", required=True, help="broker URL, such as redis://:PASSWORD@host:6379/0")
    parser.add_argument("--device", required=True, help="PLATFORM:ID, such as android:R58M123 or host:build-box-1")
    parser.add_argument("--kind", help="the queue to serve (default: the device's model; host for a host)")
    parser.add_argument("--remote_reporter", required=True, metavar="URL", help="results server: artifacts, results")
    parser.add_argument("--remote_access_token", metavar="TOKEN", help=f"its token (default: ${ACCESS_TOKEN_ENV})")
    parser.add_argument("--remote_outbox", metavar="DIR", help="where results wait for the server")
    parser.add_argument("--cache_dir", default=str(cache_dir() / "lab"), help="artifacts and models fetched for jobs")
    parser.add_argument(
        "--visibility_timeout",
        type=float,
        default=DEFAULT_VISIBILITY_TIMEOUT_S,
        help="seconds after which the job of a worker that died goes to another worker; a live worker keeps "
        "its running job however long it runs (default: %(default)g)",
    )
    parser.add_argument("--max_temperature", type=float, metavar="C", help="take no job while the device is hotter")
    parser.add_argument("--min_battery", type=float, metavar="PCT", help="take no job while the battery is lower")
    parser.add_argument(
        "--health_interval",
        type=float,
        default=DEFAULT_HEALTH_INTERVAL_S,
        help="seconds between health checks of an idle or paused device (default: %(default)g)",
    )
    add_option_flags(parser.add_argument_group("platform options (each for the platforms named)"))
    flags = parser.parse_args(argv)
    if flags.health_interval <= 0:
        raise UserError(f"--health_interval: expected a positive number of seconds, got {flags.health_interval}")
    if flags.visibility_timeout <= 0:
        raise UserError(f"--visibility_timeout: expected a positive number of seconds, got {flags.visibility_timeout}")
    device = parse_device(flags.device)
    platform_options = given_options(vars(flags))
    kind = device_kind(device, platform_options, flags.kind)
    token = flags.remote_access_token or os.environ.get(ACCESS_TOKEN_ENV)
    if not token:
        raise UserError(f"--remote_access_token: the worker needs the results server's token (or ${ACCESS_TOKEN_ENV})")
    cache = Path(flags.cache_dir)
    setup = WorkerSetup(
        platform=device.platform,
        device=device.device,
        platform_options=platform_options,
        remote=RemoteReporter(flags.remote_reporter, outbox=flags.remote_outbox, token=token),
        artifact_dir=cache / "artifacts",
        model_dir=cache / "models",
    )
    health = HealthLimits(flags.max_temperature, flags.min_battery)
    return serve(
        WorkerOptions(flags.broker, device, kind, setup, flags.visibility_timeout, health, flags.health_interval)
    )


def _status(argv: list[str]) -> int:
    parser = _Parser(prog="aipep-lab status", allow_abbrev=False, description="Workers, devices, health, queues.")
    parser.add_argument(
        "--broker", required=True, help="broker URL, such as redis://:PASSWORD@host:6379/0 or amqp://USER:PASS@host//"
    )
    parser.add_argument(
        "--devices",
        default="",
        metavar="KIND,...",
        help="kinds whose waiting jobs to count besides the workers' (an AMQP broker does not list its queues)",
    )
    flags = parser.parse_args(argv)
    kinds = [kind.strip() for kind in flags.devices.split(",") if kind.strip()]
    app = lab_app(flags.broker)
    connection = app.connection_for_read()
    try:
        workers, waiting = lab_status(app, kinds)
    except (OperationalError, *connection.connection_errors, *connection.channel_errors) as error:
        # The error's own text may quote the URL; its kind says enough.
        shown = shown_broker_url(flags.broker)
        raise UserError(f"--broker {shown}: cannot reach the broker ({type(error).__name__})") from None
    for line in status_lines(workers, waiting):
        print(line)
    return 0


def _submit(argv: list[str]) -> int:
    own = _Parser(prog="aipep-lab submit", allow_abbrev=False, add_help=False)
    own.add_argument("--broker", required=True, help="broker URL, such as redis://:PASSWORD@host:6379/0")
    own.add_argument("--devices", required=True, metavar="KIND", help="the device kind to run on (its queue)")
    own.add_argument("--wait", action="store_true", help="follow the job and exit with its exit status")
    own.add_argument("--timeout", type=float, help="with --wait: seconds to wait at most")
    own.add_argument("--process_timeout", type=float, default=600.0, help="seconds one benchmark process may run")
    if "-h" in argv or "--help" in argv:
        own.print_help()
        build_parser(prog="aipep-lab submit (harness flags)").print_help()
        return 0
    lab_flags, harness_argv = own.parse_known_args(argv)
    if lab_flags.timeout is not None and lab_flags.timeout <= 0:
        raise UserError(f"--timeout: expected a positive number of seconds, got {lab_flags.timeout:g}")
    for flag in ("-d", "-p", "--platform", "--excluded_devices"):
        if flag in harness_argv:
            raise UserError(
                f"{flag}: a lab job runs on the device of the worker that takes it; give its kind (--devices)"
            )
    harness_flags = build_parser(prog="aipep-lab submit").parse_args(
        [*harness_argv, "--timeout", str(lab_flags.process_timeout)]
    )
    if not harness_flags.remote_reporter:
        raise UserError(
            "--remote_reporter: aipep-lab submit needs the results server (programs and specs travel by it)"
        )
    job = job_from_flags(harness_flags)
    token = harness_flags.remote_access_token or os.environ.get(ACCESS_TOKEN_ENV)
    submission = Submission(
        broker_url=lab_flags.broker,
        kind=lab_flags.devices.strip(),
        uploader=Uploader(harness_flags.remote_reporter, token),
        wait=lab_flags.wait,
        timeout_s=lab_flags.timeout,
    )
    return submit(job, submission)
