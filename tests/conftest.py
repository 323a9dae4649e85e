"""Shared fixtures: the repository's paths, a live vendor sandbox, PostgreSQL availability."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples"
CONFIG = REPO / "data" / "config" / "pipeline.yaml"
POSTGRES_URL = os.environ.get(
    "CONTACT_PIPELINES_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sandbox():
    from contact_pipelines.sandbox import SandboxServer

    with SandboxServer(port=0) as server:
        yield server


def postgres_available() -> bool:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg2://"))
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        return True
    except Exception:
        return False


@pytest.fixture
def postgres_url() -> str:
    """PostgreSQL for real in CI (fail when missing); skipped with a reason elsewhere."""
    if postgres_available():
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but PostgreSQL is unreachable at {POSTGRES_URL}")
    pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} (set CI to make this a failure)")
