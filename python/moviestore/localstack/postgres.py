"""A PostgreSQL cluster in the state folder, run from Debian's packages.

``initdb`` and ``postgres`` refuse to run as root, so as root they run as an unprivileged
system user (Debian's ``postgres`` when the package made it).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from moviestore.localstack.processes import Server, StackError, port_open, wait_until

DATABASE = "moviestore"
ROLE = "moviestore"
RUN_AS = "postgres"


def bin_dir() -> Path:
    """The newest installed PostgreSQL server's binaries."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    if shutil.which("postgres"):
        return Path(shutil.which("postgres") or "").resolve().parent
    raise StackError(
        "PostgreSQL is not installed: run ./scripts/dev.sh (it installs Debian's postgresql)"
    )


def service_user() -> str | None:
    """Who runs the server: nobody else when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", RUN_AS], check=True)
    return RUN_AS


def readable_by(user: str | None, path: Path) -> bool:
    if user is None:
        return True
    return (
        subprocess.run(
            ["runuser", "-u", user, "--", "test", "-x", str(path)], check=False
        ).returncode
        == 0
    )


# Where the cluster lives when the state folder is private to root (pytest's temporary
# folders are 0700): a folder the service user can reach, linked from the state folder.
SHARED_ROOT = Path("/var/tmp/moviestore-postgres")


@dataclass
class Postgres:
    state: Path
    port: int

    @property
    def link(self) -> Path:
        return self.state / "postgres"

    @property
    def data(self) -> Path:
        return self.link.resolve() if self.link.is_symlink() else self.link

    def place_data(self, user: str | None) -> None:
        """Put the data folder where ``user`` can reach it (once; later starts reuse it)."""
        if self.link.exists() or self.link.is_symlink() or readable_by(user, self.state):
            return
        digest = hashlib.sha256(str(self.state).encode()).hexdigest()[:16]
        SHARED_ROOT.mkdir(mode=0o711, exist_ok=True)
        SHARED_ROOT.chmod(0o711)
        target = SHARED_ROOT / digest
        target.mkdir(mode=0o700, exist_ok=True)
        self.link.symlink_to(target)

    @property
    def password_file(self) -> Path:
        return self.state / "secrets" / "postgres-password"

    def url(self) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{ROLE}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> Server:
        user = service_user()
        self.place_data(user)
        if not (self.data / "PG_VERSION").exists():
            self.init(user)
        server = Server(
            "postgres",
            [
                str(bin_dir() / "postgres"),
                "-D", str(self.data),
                "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=",
                "-c", "fsync=on",
                "-c", "max_connections=200",
                "-c", "shared_buffers=256MB",
                "-c", "max_wal_size=4GB",
            ],
            self.state / "logs" / "postgres.log",
            user=user,
        )  # fmt: skip
        server.start()
        wait_until(lambda: port_open(self.port) and self.accepting(), 60, "PostgreSQL", server)
        return server

    def init(self, user: str | None) -> None:
        self.password_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24))
            self.password_file.chmod(0o600)
        self.data.mkdir(parents=True, exist_ok=True, mode=0o700)
        # initdb reads the password from a file the service user can open; gone right after.
        pwfile = self.data.parent / f".initdb-{secrets.token_hex(8)}"
        pwfile.write_text(self.password_file.read_text())
        pwfile.chmod(0o600)
        if user is not None:
            shutil.chown(self.data, user)
            shutil.chown(pwfile, user)
        argv = [
            str(bin_dir() / "initdb"),
            "-D", str(self.data),
            "--username", ROLE,
            "--pwfile", str(pwfile),
            "--auth", "scram-sha-256",
            "--encoding", "UTF8",
            "--locale", "C.UTF-8",
        ]  # fmt: skip
        if user is not None:
            argv = ["runuser", "-u", user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        pwfile.unlink()
        if done.returncode != 0:
            raise StackError(f"initdb failed:\n{done.stdout}\n{done.stderr}")

    def accepting(self) -> bool:
        try:
            with psycopg.connect(self.admin_url(), connect_timeout=2, autocommit=True) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if exists.fetchone() is None:
                    conn.execute(f'CREATE DATABASE "{DATABASE}"')
            return True
        except psycopg.OperationalError:
            return False

    def admin_url(self) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{ROLE}:{password}@127.0.0.1:{self.port}/postgres"
