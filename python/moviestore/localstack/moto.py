"""moto in server mode: an endpoint that speaks the real S3, SQS and SNS protocols."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from moviestore.localstack.processes import Server, port_open, wait_until


@dataclass
class Moto:
    state: Path
    port: int

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        server = Server(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            self.state / "logs" / "moto.log",
            # Dummy credentials: moto accepts any; real ones must never reach it.
            env={"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"},
        )
        server.start()
        wait_until(lambda: port_open(self.port), 60, "moto server", server)
        return server
