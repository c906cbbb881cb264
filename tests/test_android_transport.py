"""The TCP transport under adb-shell: whole writes to a slow reader, and a closed socket noticed at once."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from platforms.android.adb_connection import CarefulTcpTransport


@pytest.fixture
def server():
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener
    listener.close()


def test_a_large_write_reaches_a_slow_reader_whole(server):
    payload = bytes(range(256)) * 4096  # 1 MiB, far more than the send buffer below holds
    received = bytearray()

    def read_slowly() -> None:
        client, _ = server.accept()
        time.sleep(0.2)  # let the sender's buffer fill, so a single send() cannot take it all
        with client:
            while chunk := client.recv(65536):
                received.extend(chunk)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    transport = CarefulTcpTransport("127.0.0.1", server.getsockname()[1])
    transport.connect(10.0)
    transport._connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    assert transport.bulk_write(payload, 10.0) == len(payload)
    transport.close()
    reader.join(timeout=30)
    assert bytes(received) == payload


def test_a_closed_connection_raises_instead_of_reading_nothing(server):
    transport = CarefulTcpTransport("127.0.0.1", server.getsockname()[1])
    transport.connect(10.0)
    client, _ = server.accept()
    client.close()
    with pytest.raises(ConnectionResetError, match="closed the connection"):
        transport.bulk_read(24, 10.0)
    transport.close()
