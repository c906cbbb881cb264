"""The device lab on RabbitMQ: the broker is only a URL, so jobs, workers and `aipep-lab status` work the same."""

from __future__ import annotations

import socket

import pytest

from tests.lab.lab_processes import running_lab
from tests.lab.test_lab import WAIT_S, stored_results, wait_for, write_program, write_spec


@pytest.fixture
def amqp_lab(rabbitmq, results_server, tmp_path):
    with running_lab(rabbitmq.url, results_server, tmp_path / "lab") as running:
        yield running


def test_a_rabbitmq_lab_runs_jobs_and_shows_its_status(amqp_lab, rabbitmq, tmp_path):
    lab = amqp_lab
    lab.start_worker("tau-box", "tau", 3600, None, "--health_interval", "0.5")
    program = write_program(tmp_path)
    spec = write_spec(tmp_path, tmp_path / "markers", {"quick": 0})
    info = {"treatment": {"program": str(program)}}
    done = lab.submit("tau", spec, info, "--wait", "--timeout", str(WAIT_S))
    assert done.returncode == 0, done.stderr + lab.worker_log("tau-box")
    assert done.stderr.splitlines()[-1].endswith("device host:tau-box: 1 results, exit status 0")
    assert len(stored_results(lab)) == 1
    queued = lab.submit("upsilon-unserved", spec, info)
    assert queued.returncode == 0, queued.stderr

    def status() -> list[str]:
        shown = lab.status("--devices", "upsilon-unserved")
        assert rabbitmq.password not in shown.stdout + shown.stderr
        return shown.stdout.splitlines()

    expected = f"worker\t{socket.gethostname()}\thost:tau-box\tkind tau\tok\tidle"
    wait_for(lambda: expected in status(), "the idle worker in the status")
    lines = status()
    assert "queue\tupsilon-unserved\t1 waiting\tno worker serves it" in lines
    assert "queue\ttau\t0 waiting" in lines
    assert rabbitmq.password not in lab.worker_log("tau-box")
