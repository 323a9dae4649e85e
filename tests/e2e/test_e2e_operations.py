"""What an operator touches: the workspace loads, secrets stay secret, the sandbox command serves."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from contact_pipelines.cli import seed_sandbox_fields
from contact_pipelines.core.config import load_config
from contact_pipelines.sandbox import Credentials, SandboxServer
from contact_pipelines.testing import land_samples, run_cli_with

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def test_workspace_loads_like_dagster_dev(tmp_path):
    """`dagster dev -w workspace.yaml` loads the same code location this validates."""
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "contact_pipelines.definitions" in result.stdout + result.stderr


def test_secrets_never_reach_output_logs_or_metadata(tmp_path):
    secrets = Credentials(
        reteno_api_key="rk-SECRET-7f3a9b",
        dotdigital_user="api-user@example.com",
        dotdigital_password="dd-SECRET-51c0e2",
        pushtech_account_id="acct-42",
        pushtech_token="pt-SECRET-d00d1e",
    )
    with SandboxServer(port=0, credentials=secrets) as sandbox:
        seed_sandbox_fields(sandbox, load_config(REPO / "data" / "config" / "pipeline.yaml"))
        result = run_cli_with(tmp_path, sandbox, land_samples(tmp_path / "landing"))
        assert result.returncode == 0, result.stderr[-3000:]
        assert all(sandbox.contacts(v) for v in ("reteno", "dotdigital", "pushtech"))
    leaked = re.compile("SECRET")
    assert not leaked.search(result.stdout + result.stderr)
    # the Dagster instance (event log: logs, metadata, run config) and the warehouse
    for folder in (tmp_path / "dagster_home", tmp_path / "warehouse"):
        for path in folder.rglob("*"):
            if path.is_file():
                assert b"SECRET" not in path.read_bytes(), f"secret found in {path}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sandbox_command_serves_all_three_vendors():
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "contact-pipelines"), "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("sandbox did not start")
        assert health.status_code == 200
        base = f"http://127.0.0.1:{port}"
        assert (
            httpx.get(f"{base}/reteno/api/v1/addressbooks", auth=("x", "wrong")).status_code == 401
        )
        ok = httpx.get(f"{base}/reteno/api/v1/addressbooks", auth=("x", "sandbox-reteno-key"))
        assert ok.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
