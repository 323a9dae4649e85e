"""Fixtures for the delivery tests: card tables, memberships, configs, ledgers."""

from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pytest
import sqlalchemy as sa

from contact_pipelines.core.config import PipelineConfig
from contact_pipelines.core.delivery.ledger import Ledger, normalise_url
from contact_pipelines.core.fields import CARD_SCHEMA, MEMBERSHIP_SCHEMA

POSTGRES_URL = os.environ.get(
    "CONTACT_PIPELINES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def build_cards(*cards: dict) -> pa.Table:
    """A CARD_SCHEMA table; each dict names only the columns it cares about."""
    rows = []
    for i, card in enumerate(cards):
        row = dict.fromkeys(CARD_SCHEMA.names)
        row.update(contact_key=f"{i:016x}", shard=0, content_hash=f"h{i}")
        row.update(card)
        row["fields"] = list((row.get("fields") or {}).items())
        if row["email"] and row["emails"] is None:
            row["emails"] = [row["email"]]
        if row["phone"] and row["phones"] is None:
            row["phones"] = [row["phone"]]
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=CARD_SCHEMA)


def build_memberships(pairs: dict[str, list[str]]) -> pa.Table:
    rows = [
        {"contact_key": key, "segment": segment, "origin": "source"}
        for key, segments in pairs.items()
        for segment in segments
    ]
    return pa.Table.from_pylist(rows, schema=MEMBERSHIP_SCHEMA)


@pytest.fixture
def make_cards():
    return build_cards


@pytest.fixture
def make_memberships():
    return build_memberships


@pytest.fixture
def make_config():
    def make(**vendors) -> PipelineConfig:
        return PipelineConfig.model_validate({"vendors": vendors})

    return make


@pytest.fixture
def sqlite_ledger(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ledger
    ledger.close()


def _postgres_available() -> bool:
    try:
        import psycopg2

        psycopg2.connect(POSTGRES_URL, connect_timeout=2).close()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request, tmp_path):
    """The ledger on SQLite and, where the server runs, on PostgreSQL (a schema of its own)."""
    if request.param == "sqlite":
        ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
        yield ledger
        ledger.close()
        return
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {POSTGRES_URL}")
        pytest.skip("PostgreSQL not reachable")
    schema = f"ledger_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    ledger = Ledger(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    yield ledger
    ledger.close()
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
