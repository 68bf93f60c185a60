"""A Redis server in the state folder, from Debian's redis-server, with a password as
ElastiCache has one (AUTH): a local process that does not know it can neither read nor write
the answers the API serves."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from moviestore.localstack.processes import Server, StackError, port_open, wait_until


@dataclass
class Redis:
    state: Path
    port: int

    @property
    def password_file(self) -> Path:
        return self.state / "secrets" / "redis-password"

    def password(self) -> str:
        """The server's password, made once per state folder (URL-safe: no quoting needed)."""
        if not self.password_file.exists():
            self.password_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.password_file.write_text(secrets.token_urlsafe(24))
            self.password_file.chmod(0o600)
        return self.password_file.read_text().strip()

    def url(self) -> str:
        return f"redis://:{self.password()}@127.0.0.1:{self.port}/0"

    def start(self) -> Server:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError("redis-server is not installed: run ./scripts/dev.sh")
        data = self.state / "redis"
        data.mkdir(parents=True, exist_ok=True)
        server = Server(
            "redis",
            [
                binary,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(data),
                # A cache: every value can be computed again from PostgreSQL, so nothing is
                # persisted (no AOF fsyncs or rewrite forks to stall it under load).
                "--appendonly", "no",
                "--save", "",
                "--protected-mode", "yes",
                # On the command line (redis-server reads no password file); the state folder
                # and its secrets are the user's own.
                "--requirepass", self.password(),
            ],
            self.state / "logs" / "redis.log",
        )  # fmt: skip
        server.start()
        wait_until(lambda: port_open(self.port), 30, "Redis", server)
        return server
