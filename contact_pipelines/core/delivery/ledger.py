"""The delivery ledger: what each vendor last accepted, and a journal of batches.

SQLAlchemy Core over SQLite (``sqlite:///path``) or PostgreSQL
(``postgresql://`` or ``postgresql+psycopg2://``). Tables are created when
missing. Reads and writes are bulk: ``IN`` lists and executemany in chunks.

- ``delivery_ledger``: per (vendor, contact_key) the hash of the last payload
  the vendor accepted, its contact id, the last outcome/error, the segments
  and data fields last sent, and when.
- ``delivery_batches``: per batch, its contacts and status (``in_flight`` while
  sent but not recorded, then ``done``). A run killed mid-way leaves
  ``in_flight`` rows; the next run closes them as ``abandoned`` and, since
  their contacts' hashes never reached the ledger, sends exactly those again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa
from psycopg2.extras import execute_values

CHUNK = 500  # rows per IN list / executemany statement
SUCCESS_OUTCOMES = ("created", "updated")

_metadata = sa.MetaData()

contacts_table = sa.Table(
    "delivery_ledger",
    _metadata,
    sa.Column("vendor", sa.String(32), primary_key=True),
    sa.Column("contact_key", sa.String(64), primary_key=True),
    sa.Column("payload_hash", sa.String(64)),  # last payload the vendor accepted
    sa.Column("vendor_id", sa.String(128)),
    sa.Column("last_outcome", sa.String(16), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("segments", sa.Text, nullable=False, default="[]"),  # JSON list
    sa.Column("data_fields", sa.Text, nullable=False, default="[]"),  # JSON list
    sa.Column("updated_at", sa.String(20), nullable=False),
    # hash of what the accepted payload was built from (card, segments, vendor config):
    # equal next time means the payload would be equal, so it is not even built
    sa.Column("input_hash", sa.String(32)),
)

batches_table = sa.Table(
    "delivery_batches",
    _metadata,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("vendor", sa.String(32), nullable=False),
    sa.Column("shard", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("contact_keys", sa.Text, nullable=False),  # JSON list
    sa.Column("status", sa.String(16), nullable=False),  # in_flight | done | abandoned
    sa.Column("vendor_ref", sa.String(128)),
    sa.Column("created_at", sa.String(20), nullable=False),
    sa.Column("updated_at", sa.String(20), nullable=False),
    sa.Index("ix_delivery_batches_open", "vendor", "shard", "status"),
)


# Pushtech batches sent with a public webhook_url: the identifiers the webhook will echo
# (lower-cased, see vendors.base.lookup_values) -> contact_key, so that a receiver in
# another process (contact_pipelines.webhook_app) can turn a delivery into outcomes.
webhook_batches_table = sa.Table(
    "delivery_webhook_batches",
    _metadata,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("vendor", sa.String(32), nullable=False),
    sa.Column("lookup", sa.Text, nullable=False),  # JSON object
    sa.Column("received_at", sa.String(20)),  # when a verified webhook was applied
)


class LedgerEntry(NamedTuple):
    contact_key: str
    payload_hash: str | None
    vendor_id: str | None
    last_outcome: str
    segments: list[str]
    data_fields: list[str]
    input_hash: str | None = None

    @property
    def known_to_vendor(self) -> bool:
        """The vendor accepted this contact at least once (so a re-send is an update)."""
        return self.payload_hash is not None or self.vendor_id is not None


class LedgerRecord(NamedTuple):
    """One contact's outcome to record."""

    contact_key: str
    outcome: str
    payload_hash: str | None = None
    vendor_id: str | None = None
    error: str | None = None
    segments: Sequence[str] = ()
    data_fields: Sequence[str] = ()
    input_hash: str | None = None


_LEDGER_COLUMNS = (
    "vendor",
    "contact_key",
    "payload_hash",
    "vendor_id",
    "last_outcome",
    "last_error",
    "segments",
    "data_fields",
    "updated_at",
    "input_hash",
)
# every outcome updates these; an accepted one (full) also the payload columns, keeping a
# vendor id the vendor did not repeat
_OUTCOME_UPDATES = ("last_outcome", "last_error", "updated_at")
_ACCEPTED_UPDATES = ("payload_hash", "segments", "data_fields", "input_hash")


@lru_cache(maxsize=8)
def _upsert_sql(values: str, full: bool) -> str:
    """INSERT .. ON CONFLICT DO UPDATE, the same text on SQLite (3.24+) and PostgreSQL."""
    table = contacts_table.name
    updates = [f"{c} = excluded.{c}" for c in _OUTCOME_UPDATES]
    if full:
        updates += [f"{c} = excluded.{c}" for c in _ACCEPTED_UPDATES]
        updates.append(f"vendor_id = COALESCE(excluded.vendor_id, {table}.vendor_id)")
    return (
        f"INSERT INTO {table} ({', '.join(_LEDGER_COLUMNS)}) VALUES {values} "
        f"ON CONFLICT (vendor, contact_key) DO UPDATE SET {', '.join(updates)}"
    )


@lru_cache(maxsize=4096)
def _json_list(values: tuple[str, ...]) -> str:
    """Segment and field lists repeat across contacts: encode each distinct one once."""
    return json.dumps(list(values))


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and use psycopg2 for it."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def _chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sqlite_wal(dbapi_connection, _record) -> None:
    """WAL: shard runs in parallel processes read while one writes, and a commit appends to
    the log instead of syncing the database file. ``synchronous=NORMAL`` still survives a
    killed process; a power cut may lose the last commits, whose contacts are then re-sent
    (every vendor call is an idempotent upsert)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Ledger:
    """Per-vendor delivery state in SQL. Use from one thread at a time."""

    def __init__(self, url: str):
        self.url = normalise_url(url)
        connect_args = {"timeout": 60} if self.url.startswith("sqlite") else {}
        self.engine = sa.create_engine(self.url, connect_args=connect_args)
        if self.engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(
                f"ledger supports SQLite and PostgreSQL, not {self.engine.dialect.name}: "
                "use sqlite:/// or postgresql://"
            )
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        self._create_tables()
        self._add_missing_columns()

    def _create_tables(self, attempts: int = 5) -> None:
        """Create the tables once; parallel runs may race to it (a shard run per process):
        the loser's CREATE fails, and on a retry the tables are there."""
        for attempt in range(attempts):
            try:
                _metadata.create_all(self.engine)
                return
            except sa.exc.DatabaseError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _add_missing_columns(self) -> None:
        """A ledger created by an earlier version gains the columns added since."""
        present = {c["name"] for c in sa.inspect(self.engine).get_columns(contacts_table.name)}
        with self.engine.begin() as conn:
            for column in contacts_table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.execute(
                        sa.text(
                            f"ALTER TABLE {contacts_table.name} ADD COLUMN {column.name} {kind}"
                        )
                    )

    def __repr__(self) -> str:
        return f"Ledger({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    # --- contacts ----------------------------------------------------------

    def entries(self, vendor: str, contact_keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """Ledger rows for these contacts (absent keys were never delivered)."""
        t = contacts_table
        keys = sorted(set(contact_keys))
        found: dict[str, LedgerEntry] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(keys):
                query = sa.select(t).where(t.c.vendor == vendor, t.c.contact_key.in_(chunk))
                for row in conn.execute(query):
                    found[row.contact_key] = LedgerEntry(
                        row.contact_key,
                        row.payload_hash,
                        row.vendor_id,
                        row.last_outcome,
                        json.loads(row.segments or "[]"),
                        json.loads(row.data_fields or "[]"),
                        row.input_hash,
                    )
        return found

    def record(
        self, vendor: str, records: Sequence[LedgerRecord], batch_id: str | None = None
    ) -> None:
        """Upsert outcomes; a rejection keeps the last accepted hash, segments and id.
        With ``batch_id`` the batch is marked done in the same transaction."""
        now = utc_now()
        accepted = [r for r in records if r.outcome != "rejected"]
        rejected = [r for r in records if r.outcome == "rejected"]
        with self.engine.begin() as conn:
            self._upsert(conn, vendor, accepted, now, full=True)
            self._upsert(conn, vendor, rejected, now, full=False)
            if batch_id is not None:
                self._set_batch_status(conn, [batch_id], "done", now)

    def _upsert(
        self, conn, vendor: str, records: Sequence[LedgerRecord], now: str, full: bool
    ) -> None:
        """Rows as tuples through the driver: SQLAlchemy's per-row parameter handling cost
        more than the database's own work (10 µs a contact on a 1M-contact sync)."""
        if not records:
            return
        rows = [
            (
                vendor,
                r.contact_key,
                r.payload_hash,
                r.vendor_id,
                r.outcome,
                r.error,
                _json_list(tuple(r.segments)),
                _json_list(tuple(r.data_fields)),
                now,
                r.input_hash,
            )
            for r in records
        ]
        if self.engine.dialect.name == "postgresql":
            # one multi-row INSERT per page, not one round trip per row (psycopg2 executemany)
            cursor = conn.connection.dbapi_connection.cursor()
            execute_values(cursor, _upsert_sql("%s", full), rows, page_size=CHUNK)
        else:
            placeholders = "(" + ", ".join("?" * len(_LEDGER_COLUMNS)) + ")"
            conn.exec_driver_sql(_upsert_sql(placeholders, full), rows)

    # --- batch journal -----------------------------------------------------

    def open_batch(
        self,
        vendor: str,
        shard: int,
        run_id: str,
        batch_id: str,
        contact_keys: Sequence[str],
        webhook_lookup: Mapping[str, str] | None = None,
    ) -> None:
        """Journal a batch as in flight; ``webhook_lookup`` is kept when a webhook
        receiver elsewhere will report its outcomes (see ``apply_webhook``)."""
        now = utc_now()
        row = {
            "batch_id": batch_id,
            "vendor": vendor,
            "shard": shard,
            "run_id": run_id,
            "contact_keys": json.dumps(list(contact_keys)),
            "status": "in_flight",
            "created_at": now,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(sa.insert(batches_table), [row])
            if webhook_lookup is not None:
                lookup = {
                    "batch_id": batch_id,
                    "vendor": vendor,
                    "lookup": json.dumps(webhook_lookup),
                }
                conn.execute(sa.insert(webhook_batches_table), [lookup])

    def set_vendor_ref(self, batch_id: str, vendor_ref: str | None) -> None:
        t = batches_table
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t)
                .where(t.c.batch_id == batch_id)
                .values(vendor_ref=vendor_ref, updated_at=utc_now())
            )

    def in_flight(self, vendor: str, shard: int) -> list[dict]:
        """Batches a previous run sent but never recorded: batch_id, run_id, contact_keys, vendor_ref."""
        t = batches_table
        query = sa.select(t).where(
            t.c.vendor == vendor, t.c.shard == shard, t.c.status == "in_flight"
        )
        with self.engine.connect() as conn:
            return [
                {
                    "batch_id": row.batch_id,
                    "run_id": row.run_id,
                    "contact_keys": json.loads(row.contact_keys),
                    "vendor_ref": row.vendor_ref,
                }
                for row in conn.execute(query)
            ]

    def abandon(self, batch_ids: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            self._set_batch_status(conn, batch_ids, "abandoned", utc_now())

    def _set_batch_status(self, conn, batch_ids: Sequence[str], status: str, now: str) -> None:
        t = batches_table
        for chunk in _chunks(list(batch_ids)):
            conn.execute(
                sa.update(t).where(t.c.batch_id.in_(chunk)).values(status=status, updated_at=now)
            )

    # --- webhook outcomes ----------------------------------------------------

    def webhook_batch(self, batch_id: str) -> tuple[str, str, dict[str, str]] | None:
        """(vendor, batch status, identifier -> contact_key) of a batch awaiting a webhook."""
        w, b = webhook_batches_table, batches_table
        query = sa.select(w.c.vendor, w.c.lookup, b.c.status).join(b, b.c.batch_id == w.c.batch_id)
        with self.engine.connect() as conn:
            row = conn.execute(query.where(w.c.batch_id == batch_id)).first()
        return None if row is None else (row.vendor, row.status, json.loads(row.lookup))

    def apply_webhook(
        self,
        vendor: str,
        batch_id: str,
        vendor_ids: Mapping[str, str],
        rejected: Mapping[str, str],
    ) -> None:
        """Outcomes a completion webhook reported after the sync recorded its batch:
        vendor ids for accepted contacts; a rejected contact loses its hash, so the
        next run offers it again. Idempotent, as a webhook may be delivered twice."""
        t, now = contacts_table, utc_now()
        this_contact = sa.and_(t.c.vendor == vendor, t.c.contact_key == sa.bindparam("b_key"))
        accepted = (
            sa.update(t)
            .where(this_contact)
            .values(vendor_id=sa.bindparam("b_vendor_id"), updated_at=now)
        )
        refused = (
            sa.update(t)
            .where(this_contact)
            .values(
                payload_hash=None,
                last_outcome="rejected",
                last_error=sa.bindparam("b_error"),
                updated_at=now,
            )
        )
        with self.engine.begin() as conn:
            ids = [{"b_key": k, "b_vendor_id": v} for k, v in vendor_ids.items()]
            errors = [{"b_key": k, "b_error": e} for k, e in rejected.items()]
            for chunk in _chunks(ids):
                conn.execute(accepted, list(chunk))
            for chunk in _chunks(errors):
                conn.execute(refused, list(chunk))
            w = webhook_batches_table
            conn.execute(sa.update(w).where(w.c.batch_id == batch_id).values(received_at=now))
