"""Fixtures for the delivery tests: card tables, memberships, configs, ledgers."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from contact_pipelines.core.config import PipelineConfig
from contact_pipelines.core.delivery.ledger import Ledger, normalise_url
from contact_pipelines.core.fields import CARD_SCHEMA, MEMBERSHIP_SCHEMA


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


def _load_generated():
    """generated.py by path: the child processes of the kill test import it the same way."""
    spec = importlib.util.spec_from_file_location(
        "delivery_generated", Path(__file__).with_name("generated.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generated_cards():
    """generated_cards(count) -> (cards, memberships): a few hundred varied cards."""
    return _load_generated().generated_cards


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


@pytest.fixture
def pg_ledger(postgres_url):
    """A Ledger on the real PostgreSQL (tests/conftest.py's postgres_url: fails in CI when
    the server is missing, skips elsewhere), in a fresh schema dropped afterwards."""
    schema = f"ledger_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(postgres_url))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in postgres_url else "?"
    ledger = Ledger(f"{postgres_url}{separator}options=-csearch_path%3D{schema}")
    yield ledger
    ledger.close()
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request, tmp_path):
    """The ledger on SQLite and on PostgreSQL (a schema of its own; see pg_ledger)."""
    if request.param == "postgres":
        yield request.getfixturevalue("pg_ledger")
        return
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ledger
    ledger.close()


@pytest.fixture
def seeded_sandbox():
    """A sandbox whose vendor accounts hold the fields the sync tests' config maps."""
    from contact_pipelines.sandbox import SandboxServer

    with SandboxServer(port=0, seed=0) as server:
        server.seed_fields(
            reteno={12345: "plan_type"}, dotdigital=["FIRSTNAME", "PLAN"], pushtech=["plan_type"]
        )
        yield server
