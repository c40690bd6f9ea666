"""Start a private Mosquitto on a free loopback port with the config the repo ships."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gatepost.devstack.spawn import StackProcess


@dataclass(frozen=True)
class TlsFiles:
    """CA, certificate and key of a TLS listener; with ``require_client_cert`` a client
    must present a certificate of the same CA (its password is still checked)."""

    ca: Path
    cert: Path
    key: Path
    require_client_cert: bool = False


def stop_process(proc: StackProcess, timeout: float) -> int:
    """SIGTERM *proc*, SIGKILL it if it has not exited within *timeout* s; its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


_HANDED: set[int] = set()  # ports this process handed out: never twice


def free_port() -> int:
    """A TCP port free on loopback right now, and not handed out by this process before (a
    stack picks its cloud's port before its broker picks its own, and the kernel may offer
    the same free port to both)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED:
            _HANDED.add(port)
            return port


def find_mosquitto() -> str:
    """Path of the mosquitto binary (Debian puts it in /usr/sbin)."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto",
                                                      path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("mosquitto is not installed: run `make deps` "
                           "(apt-get install mosquitto)")
    return found


class Broker:
    """A mosquitto process owned by us."""

    def __init__(self, data_dir: Path, port: int | None = None, *,
                 password_file: Path | None = None, acl_file: Path | None = None,
                 tls: TlsFiles | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.password_file = password_file
        self.acl_file = acl_file
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.proc: subprocess.Popen | None = None

    def _auth(self) -> str:
        if self.password_file is None:
            return "allow_anonymous true"
        lines = ["allow_anonymous false", f"password_file {self.password_file}"]
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        if self.tls:
            lines += ["", f"listener {self.tls_port} 127.0.0.1",
                      f"cafile {self.tls.ca}", f"certfile {self.tls.cert}",
                      f"keyfile {self.tls.key}",
                      f"require_certificate {str(self.tls.require_client_cert).lower()}"]
        return "\n".join(lines)

    @property
    def url(self) -> str:
        """mqtt://127.0.0.1:PORT"""
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """mqtts://127.0.0.1:TLS_PORT (with a TLS listener)"""
        return f"mqtts://127.0.0.1:{self.tls_port}"

    def start(self, timeout: float = 10.0) -> None:
        """Write the config, start mosquitto and wait until it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        template = resources.files("gatepost").joinpath("data/mosquitto.conf").read_text()
        conf = self.data_dir / "mosquitto.conf"
        security = "per-user" if self.password_file else "anonymous, for local tests only"
        conf.write_text(template.format(port=self.port, data_dir=self.data_dir,
                                        auth=self._auth(), security=security,
                                        user=getpass.getuser()))
        self.proc = subprocess.Popen([find_mosquitto(), "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err or (self.data_dir / 'mosquitto.log')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening")

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Terminate and reap (mosquitto saves its persistence file on the way out)."""
        if self.proc:
            stop_process(self.proc, 5)
