"""The vendor sandbox in a child process, for benchmarks: its CPU and memory stay out of the
measured process, as a real vendor's would. Seeded over its admin routes (``/_sandbox/``)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxProcess:
    """``contact_pipelines.sandbox.server.serve`` in a child process."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        code = (
            "from contact_pipelines.sandbox.server import serve; "
            f"serve('127.0.0.1', {self.port}, None, 0)"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/_sandbox/health").raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"the sandbox did not start on {self.url}")

    def seed_fields(self, reteno=None, dotdigital=(), pushtech=()) -> None:
        """The same surface as ``SandboxServer.seed_fields``."""
        fields = {
            "reteno": {str(k): v for k, v in (reteno or {}).items()},
            "dotdigital": list(dotdigital),
            "pushtech": list(pushtech),
        }
        httpx.post(f"{self.url}/_sandbox/fields", json=fields).raise_for_status()

    def env(self) -> dict[str, str]:
        return {
            "RETENO_API_URL": f"{self.url}/reteno/api/v1",
            "RETENO_API_KEY": "sandbox-reteno-key",
            "DOTDIGITAL_API_URL": f"{self.url}/dotdigital",
            "DOTDIGITAL_API_USER": "sandbox@example.com",
            "DOTDIGITAL_API_PASSWORD": "sandbox-password",
            "PUSHTECH_API_URL": f"{self.url}/pushtech",
            "PUSHTECH_ACCOUNT_ID": "sandbox-account",
            "PUSHTECH_API_TOKEN": "sandbox-pushtech-token",
        }

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
