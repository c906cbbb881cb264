"""Fixtures of the lab tests: a real Redis broker (and RabbitMQ), the real results server, a Lab to start workers in."""

from __future__ import annotations

import pytest

from tests.lab.lab_processes import running_lab
from tests.lab.rabbitmq_server import start_rabbitmq
from tests.lab.redis_server import start_redis
from tests.server.server_thread import ServerThread


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    try:
        server = start_redis(tmp_path_factory.mktemp("redis"))
    except FileNotFoundError as error:
        pytest.fail(f"{error}; the lab tests need a real Redis")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rabbitmq(tmp_path_factory):
    try:
        server = start_rabbitmq(tmp_path_factory.mktemp("rabbitmq"))
    except FileNotFoundError as error:
        pytest.fail(f"{error}; the broker-agnostic lab tests need a real RabbitMQ")
    yield server
    server.stop()


@pytest.fixture
def results_server(tmp_path):
    with ServerThread(f"sqlite:///{tmp_path / 'results.db'}") as server:
        yield server


@pytest.fixture
def lab(redis, results_server, tmp_path):
    with running_lab(redis.url, results_server, tmp_path / "lab") as running:
        yield running
