"""The foreground server the `contact-pipelines sandbox` command runs, in another process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx


def test_serve_prints_where_to_call_it_and_stops_on_ctrl_c() -> None:
    command = [
        sys.executable,
        "-u",
        "-c",
        "from contact_pipelines.sandbox import serve; serve('127.0.0.1', 0, '5xx:1', 0)",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        first_line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first_line).group(0)
        lines = [process.stdout.readline() for _ in range(9)]
        assert f"  RETENO_API_URL={url}/reteno/api/v1\n" in lines
        assert "  PUSHTECH_ACCOUNT_ID=sandbox-account\n" in lines
        # Another process seeds and reads it through the admin surface, never faulted.
        admin = f"{url}/_sandbox"
        assert httpx.post(f"{admin}/fields", json={"reteno": {"5": "tier"}}).status_code == 200
        groups = httpx.get(f"{url}/reteno/api/v1/addressbooks", auth=("u", "sandbox-reteno-key"))
        assert groups.status_code in (500, 502, 503)  # the 5xx:1 faults reach vendor routes
        assert httpx.get(f"{admin}/state/reteno").json()["fields"] == {"5": "tier"}
    finally:
        process.send_signal(signal.SIGINT)
        remaining, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "stopping" in remaining
