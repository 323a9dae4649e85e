"""The sync driver: one vendor, one shard, one run.

verify fields -> build payloads -> check them against the contract -> diff
hashes with the ledger -> batch -> send and poll (``max_in_flight`` batches at
once) -> record outcomes in the ledger -> delivery-log table.

Every card in the input gets exactly one outcome: ``created``, ``updated``,
``unchanged`` or ``rejected`` (with why). When a vendor accepts a contact
without saying whether it was new (Reteno's import status, Pushtech without
a webhook), the ledger decides: ``updated`` if the vendor accepted this
contact before, else ``created``.

``counts["sent"]`` is the number of contacts transmitted in this run (a
contact the vendor then refused is both sent and rejected). A rejected
contact keeps its last accepted hash in the ledger, so it is offered again on
the next run. ``dry_run`` sends nothing, needs no credentials, skips the field
check (it is a vendor call) and writes ``<dry_run_dir>/<vendor>-<shard>.jsonl``:
one line per card with ``contact_key``, ``action`` (send, unchanged,
rejected), ``payload_hash`` and the ``payload`` (masked unless
``mask_dry_run=False``) or the ``error``. Every payload has been checked against
the vendor's contract (documented keys, no nulls, limits, size) exactly as in a
real run: one that breaks it is a ``rejected`` line naming the problem. Its log
predicts created/updated from the ledger and leaves the ledger untouched.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
import uuid
from collections import deque
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core import vendors  # module import: vendors imports delivery.retry
from contact_pipelines.core.config import PipelineConfig
from contact_pipelines.core.delivery.batching import ENVELOPE_BYTES, make_batches, payload_size
from contact_pipelines.core.delivery.inputs import payload_input_hashes
from contact_pipelines.core.delivery.ledger import Ledger, LedgerEntry, LedgerRecord, utc_now
from contact_pipelines.core.delivery.retry import PollPolicy, RetryPolicy
from contact_pipelines.core.delivery.webhook import WebhookReceiver
from contact_pipelines.core.fields import DELIVERY_LOG_SCHEMA
from contact_pipelines.core.vendors.base import (
    ACCEPTED,
    ContactOutcome,
    ContactPayload,
    additional_field_names,
    gc_paused,
    mask_pii,
    mask_text,
)

COUNT_KEYS = ("sent", "created", "updated", "unchanged", "rejected")
BUILD_CHUNK_CARDS = 20_000  # cards built at a time; the next chunk builds while batches fly
PARALLEL_BUILD_MIN_CARDS = 100_000  # from this many cards to send, payloads build in workers
BUILD_WORKERS_ENV = "CONTACT_PIPELINES_BUILD_WORKERS"


class MissingVendorFieldsError(RuntimeError):
    """Mapped fields do not exist at the vendor; nothing was sent."""


class SyncAbortedError(RuntimeError):
    """A batch could not be delivered; finished batches are recorded and a re-run resumes."""


@dataclass
class SyncResult:
    log: pa.Table  # DELIVERY_LOG_SCHEMA, one row per input card
    counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    resumed_batches: int = 0  # in-flight batches of a killed run, sent again
    dry_run_file: Path | None = None


class _LogRow(NamedTuple):
    contact_key: str
    outcome: str
    vendor_id: str | None = None
    error: str | None = None
    payload_hash: str | None = None
    batch_id: str | None = None
    delivered_at: str | None = None


@gc_paused  # see gc_paused: millions of live payload dicts make each collection costly
def run_vendor_sync(
    vendor: str,
    cards: pa.Table,
    memberships: pa.Table,
    config: PipelineConfig,
    credentials,
    ledger: Ledger,
    run_id: str,
    shard: int,
    dry_run: bool = False,
    dry_run_dir: Path | None = None,
    logger=None,
    *,
    retry: RetryPolicy | None = None,
    poll: PollPolicy | None = None,
    mask_dry_run: bool = True,
) -> SyncResult:
    """Deliver one shard's cards to one vendor; see the module docstring for the flow."""
    log = logger or logging.getLogger(__name__)
    module = vendors.get_vendor(vendor)
    vendor_cfg = getattr(config.vendors, vendor)
    timings: dict[str, float] = {}
    started = time.monotonic()
    keys = cards.column("contact_key").to_pylist()
    previous = ledger.entries(vendor, keys)

    with ExitStack() as stack:
        session = None
        if not dry_run:
            session = _open_session(stack, module, credentials, vendor_cfg, retry, poll)
            _verify(module, session, vendor_cfg, cards, vendor)
        timings["verify_seconds"] = time.monotonic() - started

        input_hashes = (
            {} if dry_run else payload_input_hashes(module, vendor_cfg, cards, memberships)
        )
        prepared = _Prepared(module, cards, memberships, vendor_cfg, previous, input_hashes)
        resumed = 0
        dry_file = None
        mark = time.monotonic()
        if dry_run:
            payloads = [item for chunk in prepared.chunks() for item in chunk]
            dry_file = _write_dry_run(dry_run_dir, vendor, shard, payloads, previous, mask_dry_run)
            for item in prepared.to_send(payloads):
                prepared.rows[item.contact_key] = _predicted_row(item, previous)
        else:
            resumed = _close_abandoned(ledger, vendor, shard, log)
            batches = _batches(module, vendor_cfg, prepared)
            _deliver(module, session, ledger, run_id, shard, batches, previous, prepared, log)
        timings["build_seconds"] = prepared.build_seconds  # overlaps sending: see _Prepared
        timings["send_seconds"] = time.monotonic() - mark

    timings["total_seconds"] = time.monotonic() - started
    table = _log_table(run_id, vendor, shard, [prepared.rows[key] for key in keys])
    counts = _counts(table, sent=0 if dry_run else prepared.sent)
    log.info("%s shard %s: %s in %.1f s", vendor, shard, counts, timings["total_seconds"])
    return SyncResult(table, counts, timings, resumed, dry_file)


# --- preparing -------------------------------------------------------------


def _open_session(stack: ExitStack, module, credentials, vendor_cfg, retry, poll):
    webhook = None
    if getattr(module, "NEEDS_WEBHOOK", False) and not vendor_cfg.webhook_url:
        secret, account = credentials.api_token, credentials.account_id
        webhook = stack.enter_context(WebhookReceiver(secret, account))
    session = module.make_session(credentials, vendor_cfg, retry=retry, poll=poll, webhook=webhook)
    stack.callback(session.close)
    return session


def _verify(module, session, vendor_cfg, cards: pa.Table, vendor: str) -> None:
    field_names = additional_field_names(cards)
    missing = module.verify_fields(session, vendor_cfg, field_names)
    if missing:
        raise MissingVendorFieldsError(
            f"{vendor}: field(s) {', '.join(missing)} do not exist at the vendor, so no contact "
            f"was sent: {module.MISSING_FIELDS_FIX}"
        )


class _Prepared:
    """Payloads built, checked and diffed chunk by chunk, lazily: while one chunk's
    batches are in flight (I/O, GIL released) the next chunk is built, so building and
    the vendor's own processing overlap. Every card gets its static log row here
    (rejected or unchanged); sent cards get theirs when their batch is recorded."""

    def __init__(self, module, cards, memberships, vendor_cfg, previous, input_hashes):
        self.module, self.memberships = module, memberships
        self.vendor_cfg, self.previous, self.input_hashes = vendor_cfg, previous, input_hashes
        # what each contact carried last time, for the leave-a-segment and clear-a-field diffs
        self.previous_state = (
            {key: entry.segments for key, entry in previous.items()},
            {key: entry.data_fields for key, entry in previous.items()},
        )
        self.rows: dict[str, _LogRow] = {}
        self.sent = 0
        self.build_seconds = 0.0
        self.cards = self._skip_unchanged_inputs(cards)

    def _skip_unchanged_inputs(self, cards: pa.Table) -> pa.Table:
        """Cards built from exactly what the vendor last accepted are unchanged: no payload
        is built for them (most of a nightly base), and their log row says so."""
        keys = cards.column("contact_key").to_pylist()
        keep = []
        for key in keys:
            entry = self.previous.get(key)
            same = (
                entry is not None
                and entry.input_hash is not None
                and entry.input_hash == self.input_hashes.get(key)
                and entry.last_outcome != "rejected"
            )
            if same:
                self.rows[key] = _LogRow(
                    key, "unchanged", entry.vendor_id, payload_hash=entry.payload_hash
                )
            keep.append(not same)
        return cards if all(keep) else cards.filter(pa.array(keep, pa.bool_()))

    def chunks(self, workers: int = 0):
        """Payload lists, a chunk of cards at a time, in card order. With ``workers``, built
        and checked in that many worker processes, a few chunks ahead of the sender."""
        with _ChunkBuilder(self, workers) as builder:
            for payloads in builder.built():
                mark = time.monotonic()
                for item in payloads:
                    self.rows[item.contact_key] = _static_row(item, self.previous)
                self.build_seconds += time.monotonic() - mark
                yield payloads

    def chunk_inputs(self, start: int) -> tuple:
        """What building the chunk at ``start`` needs: plain, picklable values."""
        chunk = self.cards.slice(start, BUILD_CHUNK_CARDS)
        members = _memberships_of(self.memberships, chunk, self.cards.num_rows)
        segments, fields = self.previous_state
        if segments or fields:  # only this chunk's part of what the ledger holds
            keys = chunk.column("contact_key").to_pylist()
            segments = {k: segments[k] for k in keys if k in segments}
            fields = {k: fields[k] for k in keys if k in fields}
        return self.module.NAME, chunk, members, self.vendor_cfg, (segments, fields)

    def to_send(self, payloads: list[ContactPayload]) -> list[ContactPayload]:
        changed = [p for p in payloads if p.error is None and not _unchanged(p, self.previous)]
        self.sent += len(changed)
        return changed


def _memberships_of(memberships: pa.Table | None, chunk: pa.Table, total: int):
    """The memberships of a chunk's cards (all of them when the chunk is the whole table)."""
    if memberships is None or chunk.num_rows == total:
        return memberships
    keys = chunk.column("contact_key")
    return memberships.filter(pc.is_in(memberships.column("contact_key"), value_set=keys))


def _batches(module, vendor_cfg, prepared: _Prepared):
    max_count = min(module.MAX_CONTACTS, vendor_cfg.batch_size)
    for payloads in prepared.chunks(build_workers(prepared.cards.num_rows)):
        yield from make_batches(prepared.to_send(payloads), max_count, module.MAX_BYTES)


class _ChunkBuilder:
    """Builds the chunks of a _Prepared in order: here, or in worker processes.

    Building (Python dicts, JSON, hashes, the contract check) is most of a sync's CPU and
    holds the GIL, which the sending threads and the ledger also need: a worker process
    builds while this one sends and records, and only compact results come back (the
    serialized contact, hashes, identifiers; not the payload dict)."""

    def __init__(self, prepared: _Prepared, workers: int):
        self.prepared, self.workers = prepared, workers
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self):
        if self.workers:
            spawn = multiprocessing.get_context("spawn")  # no fork of a threaded process
            self.pool = ProcessPoolExecutor(self.workers, mp_context=spawn)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def built(self):
        starts = range(0, self.prepared.cards.num_rows, BUILD_CHUNK_CARDS)
        if self.pool is None:
            for start in starts:
                mark = time.monotonic()
                payloads = build_chunk(*self.prepared.chunk_inputs(start))
                self.prepared.build_seconds += time.monotonic() - mark
                yield payloads
            return
        ahead: deque[Future] = deque()
        for start in starts:
            vendor, cards, members, vendor_cfg, state = self.prepared.chunk_inputs(start)
            # as IPC: a pickled slice would carry the whole table's buffers
            args = (vendor, _ipc_bytes(cards), _ipc_bytes(members), vendor_cfg, state)
            ahead.append(self.pool.submit(_build_chunk_rows, *args))
            if len(ahead) > self.workers:  # one chunk waiting per worker, memory bounded
                yield self._result(ahead.popleft())
        while ahead:
            yield self._result(ahead.popleft())

    def _result(self, future: Future) -> list[ContactPayload]:
        mark = time.monotonic()
        payloads = list(map(ContactPayload._make, future.result()))
        self.prepared.build_seconds += time.monotonic() - mark  # time spent waiting for it
        return payloads


@gc_paused
def build_chunk(
    vendor: str, cards, memberships, vendor_cfg, previous_state
) -> list[ContactPayload]:
    """Build and check one chunk's payloads."""
    module = vendors.get_vendor(vendor)
    previous_segments, previous_fields = previous_state
    built = module.build_payloads(
        cards, memberships, vendor_cfg, previous_segments, previous_fields
    )
    return _checked(module, built)


def _build_chunk_rows(vendor, cards, members, vendor_cfg, previous_state) -> list[tuple]:
    """build_chunk in a worker: plain tuples (pickled several times faster than NamedTuples)
    without the payload dict, as the serialized contact (``wire``) is all a batch needs."""
    cards, members = _from_ipc(cards), _from_ipc(members)
    built = build_chunk(vendor, cards, members, vendor_cfg, previous_state)
    return [tuple(p._replace(payload=None)) for p in built]


def _ipc_bytes(table: pa.Table | None) -> pa.Buffer | None:
    if table is None:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _from_ipc(buffer: pa.Buffer | None) -> pa.Table | None:
    return None if buffer is None else pa.ipc.open_stream(buffer).read_all()


def build_workers(card_count: int) -> int:
    """Worker processes that build a sync's payloads: ``CONTACT_PIPELINES_BUILD_WORKERS``,
    else every core beyond two, up to four. None for a small shard (a worker costs about a
    second to start). On a 2-core machine a worker measured slower than none: it competes
    with the sending process for the second core, and results cross a pipe."""
    if card_count < PARALLEL_BUILD_MIN_CARDS:
        return 0
    configured = os.environ.get(BUILD_WORKERS_ENV)
    if configured:
        return max(0, int(configured))
    return max(0, min(4, (os.cpu_count() or 2) - 2))


def _checked(module, payloads: list[ContactPayload]) -> list[ContactPayload]:
    """Reject (rather than send) a payload that breaks the contract or the size limit."""
    budget = (module.MAX_BYTES or 0) - ENVELOPE_BYTES
    checked = []
    for item in payloads:
        if item.error is None:
            problems = module.payload_problems(item.payload)
            if module.MAX_BYTES and payload_size(item) > budget:
                problems.append(f"payload larger than the {budget}-byte request budget")
            if problems:
                error = f"contact {item.contact_key}: payload breaks the contract: {'; '.join(problems)}"
                item = ContactPayload(item.contact_key, None, error=error)
        checked.append(item)
    return checked


def _unchanged(item: ContactPayload, previous: dict[str, LedgerEntry]) -> bool:
    entry = previous.get(item.contact_key)
    return entry is not None and entry.payload_hash == item.payload_hash


def _static_row(item: ContactPayload, previous: dict[str, LedgerEntry]) -> _LogRow:
    """The row for a card that is not sent: rejected locally or unchanged."""
    entry = previous.get(item.contact_key)
    vendor_id = entry.vendor_id if entry else None
    if item.error is not None:
        return _LogRow(item.contact_key, "rejected", vendor_id, item.error)
    return _LogRow(item.contact_key, "unchanged", vendor_id, payload_hash=item.payload_hash)


def _predicted_row(item: ContactPayload, previous: dict[str, LedgerEntry]) -> _LogRow:
    outcome = _resolve(ContactOutcome(ACCEPTED), previous.get(item.contact_key))
    return _LogRow(
        item.contact_key, outcome.outcome, outcome.vendor_id, payload_hash=item.payload_hash
    )


def _write_dry_run(
    directory: Path | None, vendor: str, shard: int, payloads, previous, masked: bool = True
) -> Path:
    """One JSON line per card: what would be done and the payload (emails and phones
    masked unless ``masked`` is False, for a reviewer allowed to see them)."""
    directory = Path(directory or ".")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{vendor}-{shard}.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for item in payloads:
            action = (
                "rejected" if item.error else "unchanged" if _unchanged(item, previous) else "send"
            )
            line = {
                "contact_key": item.contact_key,
                "action": action,
                "payload_hash": item.payload_hash,
            }
            if item.error:
                line["error"] = item.error
            elif action == "send":
                line["payload"] = mask_pii(item.payload) if masked else item.payload
            out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    return path


# --- delivering ------------------------------------------------------------


def _close_abandoned(ledger: Ledger, vendor: str, shard: int, log) -> int:
    """Batches a killed run left in flight: close them; their contacts are re-sent
    because their hashes never reached the ledger."""
    open_batches = ledger.in_flight(vendor, shard)
    if open_batches:
        ledger.abandon([b["batch_id"] for b in open_batches])
        contacts = sum(len(b["contact_keys"]) for b in open_batches)
        log.warning(
            "%s shard %s: resuming; %d batch(es) of an earlier run were in flight, "
            "their %d contact(s) are sent again",
            vendor,
            shard,
            len(open_batches),
            contacts,
        )
    return len(open_batches)


def _deliver(module, session, ledger, run_id, shard, batches, previous, prepared, log) -> None:
    """Send ``batches`` (an iterator, pulled only when a slot is free), ``max_in_flight``
    at a time; record each as it finishes."""
    vendor_cfg = session.cfg
    failures: list[str] = []
    with ThreadPoolExecutor(
        max_workers=vendor_cfg.max_in_flight, thread_name_prefix=module.NAME
    ) as pool:
        running: dict[Future, tuple[str, list[ContactPayload]]] = {}
        while True:
            while not failures and len(running) < vendor_cfg.max_in_flight:
                batch = next(batches, None)
                if batch is None:
                    break
                batch_id = uuid.uuid4().hex
                ledger.open_batch(
                    module.NAME,
                    shard,
                    run_id,
                    batch_id,
                    [p.contact_key for p in batch],
                    _remote_webhook_lookup(module, vendor_cfg, batch),
                )
                running[
                    pool.submit(_send_and_poll, module, session, ledger, batch, batch_id, previous)
                ] = (batch_id, batch)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                batch_id, batch = running.pop(future)
                try:
                    outcomes = future.result()
                except (TimeoutError, RuntimeError) as exc:  # VendorUnavailableError and kin
                    failures.append(f"batch {batch_id} ({len(batch)} contacts): {exc}")
                    continue
                _record(ledger, module.NAME, batch_id, batch, outcomes, previous, prepared)
    if failures:
        log.error("%s shard %s: %d batch(es) not delivered", module.NAME, shard, len(failures))
        raise SyncAbortedError(
            f"{module.NAME} shard {shard}: {len(failures)} batch(es) not delivered; the others are "
            f"recorded and a re-run sends only what is missing. First: {failures[0]}"
        )


def _remote_webhook_lookup(module, vendor_cfg, batch) -> dict[str, str] | None:
    """With a public webhook_url, outcomes reach a receiver in another process
    (contact_pipelines.webhook_app): it needs the batch's identifier -> contact_key."""
    if not (getattr(module, "NEEDS_WEBHOOK", False) and vendor_cfg.webhook_url):
        return None
    return {value: item.contact_key for item in batch for value in item.lookup}


def _send_and_poll(
    module, session, ledger: Ledger, batch, batch_id: str, previous: dict[str, LedgerEntry]
) -> dict[str, ContactOutcome]:
    handle = module.send_batch(session, batch, batch_id)
    if handle.vendor_ref:
        ledger.set_vendor_ref(batch_id, handle.vendor_ref)
    outcomes = module.poll(session, handle)
    # --- optional vendor hook: remove_from_lists (Dotdigital's v2 list removal) ---
    # After the import, take contacts out of the lists they left; it folds its failures
    # into the outcomes (never raises), so they are recorded like any per-contact error.
    remove_from_lists = getattr(module, "remove_from_lists", None)
    if remove_from_lists is not None:
        outcomes = remove_from_lists(session, batch, outcomes, previous)
    # --- end of hook ---
    return outcomes


def _resolve(outcome: ContactOutcome, entry: LedgerEntry | None) -> ContactOutcome:
    vendor_id = outcome.vendor_id or (entry.vendor_id if entry else None)
    if outcome.outcome != ACCEPTED:
        # vendor messages quote the email or phone they refused; the log keeps them masked
        return ContactOutcome(outcome.outcome, vendor_id, mask_text(outcome.error))
    known = entry is not None and entry.known_to_vendor
    return ContactOutcome("updated" if known else "created", vendor_id)


def _record(ledger, vendor, batch_id, batch, outcomes, previous, prepared: _Prepared) -> None:
    now = utc_now()
    rows = prepared.rows
    records = []
    for item in batch:
        outcome = _resolve(outcomes[item.contact_key], previous.get(item.contact_key))
        accepted = outcome.outcome != "rejected"
        records.append(
            LedgerRecord(
                item.contact_key,
                outcome.outcome,
                item.payload_hash if accepted else None,
                outcome.vendor_id,
                outcome.error,
                item.segments,
                item.data_fields,
                prepared.input_hashes.get(item.contact_key) if accepted else None,
            )
        )
        rows[item.contact_key] = _LogRow(
            item.contact_key,
            outcome.outcome,
            outcome.vendor_id,
            outcome.error,
            item.payload_hash,
            batch_id,
            now,
        )
    ledger.record(vendor, records, batch_id=batch_id)


# --- reporting -------------------------------------------------------------


def _log_table(run_id: str, vendor: str, shard: int, rows: list[_LogRow]) -> pa.Table:
    n = len(rows)
    return pa.table(
        {
            "run_id": [run_id] * n,
            "vendor": [vendor] * n,
            "shard": pa.array([shard] * n, pa.int32()),
            "contact_key": [r.contact_key for r in rows],
            "outcome": [r.outcome for r in rows],
            "vendor_id": [r.vendor_id for r in rows],
            "error": [r.error for r in rows],
            "payload_hash": [r.payload_hash for r in rows],
            "batch_id": [r.batch_id for r in rows],
            "delivered_at": [r.delivered_at for r in rows],
        },
        schema=DELIVERY_LOG_SCHEMA,
    )


def _counts(table: pa.Table, sent: int) -> dict[str, int]:
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for outcome in table.column("outcome").to_pylist():
        counts[outcome] += 1
    counts["sent"] = sent
    return counts
