"""Servers that must be told a port start on another when theirs is taken, so no test fails by chance.

Each test holds the first port offered with a listening socket of its own, as another
process on the machine might, and checks that the real server notices and moves on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import psycopg
import pytest
from sshd_fixture import start_sshd

from tests.ports import ATTEMPTS, PortTaken, kernel_chosen_port, start_on_a_free_port
from tests.server.postgres_cluster import PostgresCluster

CONNECT_TIMEOUT_S = 10


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def first_then_kernel_chosen(port: int) -> Callable[[], int]:
    offered = [port]
    return lambda: offered.pop() if offered else kernel_chosen_port()


def test_a_port_taken_every_time_ends_in_one_error_naming_the_ports():
    tried = []

    def always_taken(port: int) -> None:
        tried.append(port)
        raise PortTaken(port)

    with pytest.raises(RuntimeError, match="another process took every port chosen for the server") as failure:
        start_on_a_free_port(always_taken)
    assert len(tried) == ATTEMPTS
    assert str(tried) in str(failure.value)


def test_sshd_whose_port_is_taken_listens_on_another(tmp_path, taken_port):
    server = start_sshd(tmp_path / "sshd", first_then_kernel_chosen(taken_port))
    try:
        assert server.port != taken_port
        with socket.create_connection(("127.0.0.1", server.port), timeout=CONNECT_TIMEOUT_S) as connection:
            assert connection.recv(64).startswith(b"SSH-2.0-")
        assert f"127.0.0.1]:{server.port} " in server.known_hosts.read_text()
    finally:
        server.stop()


def test_postgres_whose_port_is_taken_listens_on_another(taken_port):
    try:
        cluster = PostgresCluster(choose_port=first_then_kernel_chosen(taken_port))
    except FileNotFoundError as error:
        pytest.skip(str(error))
    cluster.start()
    try:
        assert cluster.port != taken_port
        with psycopg.connect(cluster.url(), connect_timeout=CONNECT_TIMEOUT_S) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        cluster.stop()
