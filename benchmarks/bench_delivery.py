"""Deliver N generated cards to all three vendors in the sandbox, and time it.

    .venv/bin/python benchmarks/bench_delivery.py --cards 1000000

The sandbox runs in a separate process (``contact-pipelines sandbox`` through
``python -m``), so its CPU does not compete with the client's GIL; its state is
read back over ``/_sandbox/``. Prints, per vendor: contacts/s end to end
(verify + build + diff + batch + send + poll + ledger), and the client's
payload build+serialize rate next to plain ``json.dumps`` of the same payload
dicts. ``--in-process`` runs the sandbox in this process instead.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import sandbox_process

from contact_pipelines.core.config import PipelineConfig
from contact_pipelines.core.delivery import Ledger, PollPolicy, from_env, run_vendor_sync
from contact_pipelines.core.delivery.batching import make_batches
from contact_pipelines.core.fields import CARD_SCHEMA, MEMBERSHIP_SCHEMA, PUSH_TOKEN_TYPE
from contact_pipelines.core.vendors import get_vendor
from contact_pipelines.core.vendors.base import json_with_contacts

VENDORS = ("reteno", "dotdigital", "pushtech")
CONFIG = {
    "reteno": {"fields": {"plan_type": 12345}, "max_in_flight": 8},
    "dotdigital": {
        "data_fields": {"first_name": "FIRSTNAME", "last_name": "LASTNAME", "plan_type": "PLAN"},
        "lists": {"Customers": 101},
        "max_in_flight": 8,
    },
    "pushtech": {"lists": {"Customers": "5f1c0a"}, "max_in_flight": 8},
}
SEEDED_FIELDS = {
    "reteno": {"12345": "plan_type"},
    "dotdigital": ["FIRSTNAME", "LASTNAME", "PLAN"],
    "pushtech": ["plan_type"],
}
FAST_POLL = PollPolicy(initial_interval=0.05, max_interval=0.2, webhook_timeout=30)


def generate_cards(count: int, seed: int = 1) -> tuple[pa.Table, pa.Table]:
    """``count`` CARD_SCHEMA rows (most with email, phone, names and a custom field;
    a tenth with a push token) and their memberships, built column-wise."""
    rng = np.random.default_rng(seed)
    label = np.arange(count).astype(str)

    def sometimes(share: float, values) -> pa.Array:
        array = pa.array(values, pa.string(), mask=rng.random(count) >= share)
        # numpy string arrays this large come back chunked; the list columns need one array
        return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array

    phones = np.char.add("+4477", np.char.zfill(label, 8))
    has_token = rng.random(count) < 0.1
    tokens = [
        [{"token": f"tok{i}", "app_id": "app", "os": "ios"}] if flag else None
        for i, flag in enumerate(has_token)
    ]
    emails = sometimes(0.9, np.char.add(np.char.add("user", label), "@mail.test"))
    phone_array = sometimes(0.7, phones)
    columns = {
        "contact_key": pa.array(np.char.zfill(label, 16)),
        "shard": pa.array(np.zeros(count, np.int32)),
        "external_id": pa.array(np.char.add("C", label)),
        "email": emails,
        "emails": pa.ListArray.from_arrays(np.arange(count + 1, dtype=np.int32), emails),
        "phone": phone_array,
        "phone_type": pa.array(np.full(count, "mobile")),
        "phones": pa.ListArray.from_arrays(np.arange(count + 1, dtype=np.int32), phone_array),
        "push_tokens": pa.array(tokens, pa.list_(PUSH_TOKEN_TYPE)),
        "first_name": sometimes(0.8, np.char.add("First", label)),
        "last_name": sometimes(0.8, np.char.add("Last", label)),
        "birth_date": sometimes(0.5, np.full(count, "1990-04-01")),
        "gender": sometimes(0.5, np.where(rng.random(count) < 0.5, "male", "female")),
        "language": sometimes(0.5, np.full(count, "en")),
        "country": sometimes(0.5, np.full(count, "GB")),
        "city": sometimes(0.5, np.full(count, "London")),
        "email_status": sometimes(0.6, np.full(count, "subscribed")),
        "consent_terms": pa.array(rng.random(count) < 0.5),
        "fields": pa.MapArray.from_arrays(
            np.arange(count + 1, dtype=np.int32),
            pa.array(np.full(count, "plan_type")),
            pa.array(np.where(rng.random(count) < 0.5, "gold", "silver")),
        ),
        "content_hash": pa.array(label),
    }
    arrays = [
        columns[f.name] if f.name in columns else pa.nulls(count, f.type) for f in CARD_SCHEMA
    ]
    cards = pa.Table.from_arrays(arrays, schema=CARD_SCHEMA)
    members = rng.random(count) < 0.3
    keys = columns["contact_key"].filter(pa.array(members))
    memberships = pa.table(
        {
            "contact_key": keys,
            "segment": pa.array(np.full(len(keys), "Customers")),
            "origin": pa.array(np.full(len(keys), "source")),
        },
        schema=MEMBERSHIP_SCHEMA,
    )
    return cards, memberships


# --- the sandbox -------------------------------------------------------------


class SandboxProcess(sandbox_process.SandboxProcess):
    def __init__(self):
        super().__init__()
        self.seed_fields(**SEEDED_FIELDS)


class SandboxInProcess:
    def __init__(self):
        from contact_pipelines.sandbox import SandboxServer

        self.server = SandboxServer(port=0)
        self.server.seed_fields(
            reteno={12345: "plan_type"},
            dotdigital=SEEDED_FIELDS["dotdigital"],
            pushtech=["plan_type"],
        )

    def env(self) -> dict[str, str]:
        return self.server.env()

    def stop(self) -> None:
        self.server.stop()


# --- measuring ---------------------------------------------------------------


def build_rates(vendor: str, cards: pa.Table, memberships: pa.Table, config) -> dict[str, float]:
    """Payload build+serialize (what the client does) next to json.dumps of the same dicts."""
    module = get_vendor(vendor)
    vendor_cfg = getattr(config.vendors, vendor)
    started = time.perf_counter()
    payloads = module.build_payloads(cards, memberships, vendor_cfg, {}, {})
    built = time.perf_counter() - started
    sendable = [p for p in payloads if p.error is None]
    started = time.perf_counter()
    for batch in make_batches(sendable, module.MAX_CONTACTS, module.MAX_BYTES):
        json_with_contacts({}, [p.wire_bytes() for p in batch])  # what send_batch does
    serialized = time.perf_counter() - started
    dicts = [p.payload for p in sendable]
    started = time.perf_counter()
    json.dumps(dicts)
    plain = time.perf_counter() - started
    n = cards.num_rows
    return {
        "build_per_s": n / built,
        "build_and_serialize_per_s": n / (built + serialized),
        "plain_json_dumps_per_s": len(dicts) / plain,
    }


def deliver(vendor: str, cards, memberships, config, env, ledger_url: str) -> dict:
    ledger = Ledger(ledger_url)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = run_vendor_sync(
        vendor,
        cards,
        memberships,
        config,
        from_env(vendor, env),
        ledger,
        run_id=f"bench-{vendor}",
        shard=0,
        poll=FAST_POLL,
    )
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started  # the client's own CPU, all its threads
    ledger.close()
    return {
        "contacts_per_s": cards.num_rows / seconds,
        "contacts_per_client_cpu_s": cards.num_rows / cpu_seconds,
        "seconds": seconds,
        "counts": result.counts,
        "timings": {k: round(v, 2) for k, v in result.timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--vendors", default=",".join(VENDORS))
    parser.add_argument("--in-process", action="store_true", help="sandbox in this process")
    parser.add_argument("--skip-delivery", action="store_true", help="only the build rates")
    args = parser.parse_args()
    vendors = [v for v in args.vendors.split(",") if v]
    config = PipelineConfig.model_validate({"vendors": CONFIG})

    started = time.perf_counter()
    cards, memberships = generate_cards(args.cards)
    print(f"generated {args.cards} cards in {time.perf_counter() - started:.1f} s")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for vendor in vendors:
        rates = build_rates(vendor, cards, memberships, config)
        print(f"{vendor:>10} build: " + ", ".join(f"{k} {v:,.0f}" for k, v in rates.items()))
    if args.skip_delivery:
        return
    sandbox = SandboxInProcess() if args.in_process else SandboxProcess()
    where = "in-process" if args.in_process else "separate process"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ledger_url = os.environ.get("CONTACT_PIPELINES_LEDGER_URL") or (
                f"sqlite:///{Path(tmp) / 'ledger.db'}"
            )
            for vendor in vendors:
                figures = deliver(vendor, cards, memberships, config, sandbox.env(), ledger_url)
                print(
                    f"{vendor:>10} end to end ({where} sandbox): "
                    f"{figures['contacts_per_s']:,.0f} contacts/s in {figures['seconds']:.1f} s "
                    f"({figures['contacts_per_client_cpu_s']:,.0f} per client CPU second) "
                    f"{figures['counts']} {figures['timings']}"
                )
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
