"""Helpers for tests (ours and a deployment's own): land files, run the CLI in a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from contact_pipelines.core.landing import copy_exports

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples"
SAMPLE_CONFIG = REPO / "data" / "config" / "pipeline.yaml"
_OWN_PREFIXES = ("RETENO_", "DOTDIGITAL_", "PUSHTECH_", "CONTACT_PIPELINES_", "DAGSTER_HOME")


def land_samples(landing: Path, samples: Path = SAMPLES) -> Path:
    """Copy the bundled export files (not their README) into a landing folder."""
    return copy_exports(samples, landing)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without any pipeline or vendor variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 600):
    command = [sys.executable, "-m", "contact_pipelines.cli", *args]
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def run_cli_with(
    tmp_path: Path, sandbox, landing: Path, *extra_args, env_overrides=None, config=SAMPLE_CONFIG
):
    """`contact-pipelines run` against a sandbox, instance in tmp_path/dagster_home."""
    env = clean_env(
        {**sandbox.env(), "DAGSTER_HOME": str(tmp_path / "dagster_home"), **(env_overrides or {})}
    )
    args = [
        "run",
        "--landing",
        str(landing),
        "--warehouse",
        str(tmp_path / "warehouse"),
        "--config",
        str(config),
        "--summary-json",
        str(tmp_path / "summary.json"),
        *extra_args,
    ]
    return run_cli(args, env, cwd=tmp_path)
