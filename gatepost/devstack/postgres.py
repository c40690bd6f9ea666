"""A throwaway PostgreSQL cluster in a temp dir on a free loopback port.

Tests and benchmarks start one, create databases in it, and remove it after. PostgreSQL
refuses to run as root, so as root the cluster runs as ``nobody`` (CI runs as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from gatepost.devstack.broker import free_port


def find_bindir() -> Path:
    """The newest installed server's bin directory (Debian's postgresql package)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("postgres")
    if which:
        return Path(which).parent
    raise RuntimeError("PostgreSQL is not installed: run `make deps` "
                       "(apt-get install postgresql)")


class TempPostgres:
    """A private cluster: ``start()``, ``create_database()``, ``stop()`` (removes it all)."""

    USER = "gatepost"

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.port = 0
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._run_as: dict[str, Any] = {}

    def _prepare_dir(self) -> Path:
        d = Path(tempfile.mkdtemp(prefix="gatepost-pg-"))
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(d, nobody.pw_uid, nobody.pw_gid)
            self._run_as = {"user": nobody.pw_uid, "group": nobody.pw_gid,
                            "extra_groups": []}
        return d

    def start(self, timeout: float = 30.0) -> TempPostgres:
        """initdb, start the server, wait until it answers."""
        bindir = find_bindir()
        self.dir = self._prepare_dir()
        data = self.dir / "data"
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", self.USER,
                        "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"],
                       check=True, capture_output=True, cwd=self.dir, **self._run_as)
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                    "-c", "max_connections=200", "-c", "shared_buffers=128MB"]
        if not self.durable:
            # A test cluster is thrown away: no fsync, so tests do not wait on the disk.
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                         "-c", "full_page_writes=off"]
        for _attempt in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(data), "-p", str(self.port), *settings],
                stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.log", "ab"),  # noqa: SIM115
                cwd=self.dir, **self._run_as)
            if self._wait_ready(timeout):
                return self
        log = (self.dir / "server.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start:\n{log}")

    def _wait_ready(self, timeout: float) -> bool:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False  # most likely the port was taken: try another
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def dsn(self, database: str) -> str:
        """A libpq connection string for *database*."""
        return f"host=127.0.0.1 port={self.port} user={self.USER} dbname={database}"

    def url(self, database: str) -> str:
        """A ``postgresql://`` URL for *database*."""
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A new database, empty or a copy of the database *template* (which nobody may be
        connected to); its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if self.proc is not None and self.proc.poll() is None:
            # SIGTERM is a "smart" shutdown, which waits for clients; SIGINT is "fast" but
            # still writes a checkpoint; SIGQUIT is "immediate": no checkpoint, which is all
            # a throwaway cluster about to be deleted needs.
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
