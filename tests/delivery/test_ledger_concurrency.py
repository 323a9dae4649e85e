"""Parallel shard runs open the same ledger at the same moment: creating it must not race."""

from __future__ import annotations

import subprocess
import sys

from contact_pipelines.core.delivery.ledger import Ledger


def test_processes_creating_one_ledger_at_once_all_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    code = f"from contact_pipelines.core.delivery.ledger import Ledger; Ledger({url!r}).close()"
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    failures = [p.communicate()[1] for p in processes if p.wait() != 0]
    assert failures == []
    ledger = Ledger(url)
    try:
        assert ledger.entries("reteno", ["nobody"]) == {}
    finally:
        ledger.close()
