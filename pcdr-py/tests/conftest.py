"""Fixtures: the example topology, a password for it, and a silent SQL Server port."""

from __future__ import annotations

import pathlib
import socket
import threading
from typing import Iterator

import pytest

import pcdr

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "topology.toml"


@pytest.fixture(autouse=True)
def sql_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example topology reads the SQL password from PCDR_SQL_PASSWORD."""
    monkeypatch.setenv("PCDR_SQL_PASSWORD", "not-a-real-password")


@pytest.fixture
def topology() -> pcdr.Topology:
    """The example topology: its hosts do not resolve, so every step that calls out
    fails with the host unreachable."""
    return pcdr.Topology.load(EXAMPLE)


@pytest.fixture
def journal(tmp_path: pathlib.Path) -> pathlib.Path:
    """A journal file that does not exist yet."""
    return tmp_path / "failover.journal"


class SilentServer:
    """A TCP port on 127.0.0.1 that accepts connections and never answers, until it
    is closed: a SQL Server that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        """Refuses new connections and drops the open ones."""
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A silent SQL Server port, closed at the end of the test."""
    server = SilentServer()
    yield server
    server.close()


def topology_with_backup_sql(port: int) -> pcdr.Topology:
    """The example topology with the backup site's SQL Server at 127.0.0.1:`port`
    (encryption required, as in the example: a silent port never answers PRELOGIN)."""
    text = EXAMPLE.read_text()
    text = text.replace(
        'sql = { host = "sql-dal.contoso.com", port = 1433 }',
        f'sql = {{ host = "127.0.0.1", port = {port}, fqdn = "sql-dal.contoso.com" }}',
    )
    return pcdr.Topology.from_toml(text)
