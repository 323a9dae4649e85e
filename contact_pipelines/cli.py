"""The `contact-pipelines` command: demo, run, sandbox."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from contact_pipelines import generate
from contact_pipelines.runner import DEFAULT_PARALLEL, VENDORS

SAMPLES_DIR = Path("data/samples")
DEMO_LANDING = Path("data/landing")
DEMO_WAREHOUSE = Path("data/warehouse")
DEMO_CONFIG = Path("data/config/pipeline.yaml")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear one-line error instead of a traceback
        if os.environ.get("CONTACT_PIPELINES_DEBUG"):
            raise
        print(f"contact-pipelines: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contact-pipelines",
        description="Migrate contact exports into Reteno, Dotdigital and Pushtech, and keep them in sync.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="the whole flow on the bundled samples against the sandbox"
    )
    demo.add_argument("--summary-json", type=Path, help="also write the summary here")
    demo.set_defaults(handler=_demo)

    run = commands.add_parser("run", help="every stage for every landed file and every shard")
    run.add_argument("--landing", type=Path, required=True, help="folder of landed export files")
    run.add_argument("--warehouse", required=True, help="warehouse folder or URL (s3://...)")
    run.add_argument(
        "--config",
        help="pipeline YAML (default: $CONTACT_PIPELINES_CONFIG or data/config/pipeline.yaml)",
    )
    run.add_argument(
        "--vendors",
        default=",".join(VENDORS),
        help="comma-separated subset of " + ",".join(VENDORS),
    )
    run.add_argument(
        "--dry-run", action="store_true", help="build and validate every payload, send nothing"
    )
    run.add_argument("--summary-json", type=Path, help="write the run summary as JSON here")
    run.add_argument(
        "--parallel",
        type=int,
        default=DEFAULT_PARALLEL,
        help=f"Dagster runs at once, each in its own process (default {DEFAULT_PARALLEL})",
    )
    run.add_argument(
        "--reingest",
        action="store_true",
        help="ingest every landed file again, even one already ingested with this config",
    )
    run.set_defaults(handler=_run)

    sandbox = commands.add_parser("sandbox", help="the local vendor sandbox as a standalone server")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument(
        "--faults", default=None, help='e.g. "429:0.05,5xx:0.1,drop:0.02,retry_after:1"'
    )
    sandbox.add_argument("--seed", type=int, default=0)
    sandbox.set_defaults(handler=_sandbox)

    webhook = commands.add_parser(
        "webhook", help="receive Pushtech completion webhooks and record outcomes in the ledger"
    )
    webhook.add_argument("--host", default="0.0.0.0")
    webhook.add_argument("--port", type=int, default=8787)
    webhook.add_argument("--ledger-url", help="default: $CONTACT_PIPELINES_LEDGER_URL")
    webhook.set_defaults(handler=_webhook)

    generate.add_arguments(commands)
    return parser


def _vendor_list(text: str) -> tuple[str, ...]:
    vendors = tuple(v.strip() for v in text.split(",") if v.strip())
    unknown = [v for v in vendors if v not in VENDORS]
    if unknown:
        raise ValueError(
            f"--vendors: unknown vendor(s) {unknown}; choose among {','.join(VENDORS)}"
        )
    return vendors


def _run(args) -> int:
    from contact_pipelines.runner import run_pipeline

    if not args.landing.is_dir():
        raise ValueError(f"--landing {args.landing}: not a folder")
    outcome = run_pipeline(
        args.landing,
        args.warehouse,
        args.config,
        _vendor_list(args.vendors),
        args.dry_run,
        parallel=args.parallel,
        reingest=args.reingest,
    )
    return _report(outcome, args.summary_json)


def _report(outcome, summary_path: Path | None) -> int:
    if summary_path:
        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(json.dumps(outcome.summary, indent=2) + "\n", encoding="utf-8")
    print(format_summary(outcome.summary))
    for failure in outcome.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if outcome.failures:
        print(f"{len(outcome.failures)} run(s) failed; the others completed.", file=sys.stderr)
        return 1
    return 0


def format_summary(summary: dict) -> str:
    lines = [
        f"rows read      {summary.get('rows_read', 0):>8}",
        f"rows valid     {summary.get('rows_valid', 0):>8}",
        f"rows rejected  {summary.get('rows_rejected', 0):>8}  "
        + ", ".join(f"{k}: {v}" for k, v in summary.get("rejected_by_reason", {}).items()),
        f"contacts       {summary.get('contacts', 0):>8}",
        "segments       " + ", ".join(f"{k}: {v}" for k, v in summary.get("segments", {}).items()),
    ]
    for vendor, counts in summary.get("vendors", {}).items():
        lines.append(f"{vendor:<14} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    return "\n".join(lines)


def _demo(args) -> int:
    """Fresh landing and warehouse from the bundled samples, the sandbox in-process."""
    from contact_pipelines.core.config import load_config
    from contact_pipelines.runner import run_pipeline
    from contact_pipelines.sandbox import SandboxServer

    if not SAMPLES_DIR.is_dir():
        raise ValueError(f"{SAMPLES_DIR} not found: run the demo from the repository's top folder")
    _fresh_landing(SAMPLES_DIR, DEMO_LANDING)
    shutil.rmtree(
        DEMO_WAREHOUSE, ignore_errors=True
    )  # the sandbox starts empty, so must the ledger
    config = load_config(DEMO_CONFIG)
    with SandboxServer(port=0) as sandbox:
        seed_sandbox_fields(sandbox, config)
        os.environ.update(sandbox.env())
        print(
            f"vendor sandbox on {sandbox.url}; landing {DEMO_LANDING}; warehouse {DEMO_WAREHOUSE}"
        )
        outcome = run_pipeline(DEMO_LANDING, str(DEMO_WAREHOUSE), str(DEMO_CONFIG))
        code = _report(outcome, args.summary_json)
        held = {v: len(sandbox.contacts(v)) for v in VENDORS}
        print("sandbox now holds " + ", ".join(f"{v}: {n} contacts" for v, n in held.items()))
        again = run_pipeline(DEMO_LANDING, str(DEMO_WAREHOUSE), str(DEMO_CONFIG))
        sent_again = {v: c["sent"] for v, c in again.summary.get("vendors", {}).items()}
        print(
            "second run (nothing changed): sent "
            + ", ".join(f"{v} {n}" for v, n in sent_again.items())
        )
    return code or (1 if again.failures else 0)


def _fresh_landing(samples: Path, landing: Path) -> None:
    from contact_pipelines.core.landing import copy_exports

    shutil.rmtree(landing, ignore_errors=True)
    copy_exports(samples, landing)


def seed_sandbox_fields(sandbox, config) -> None:
    """The demo's vendor accounts already have the additional fields the config maps."""
    vendors = config.vendors
    sandbox.seed_fields(
        reteno={field_id: name for name, field_id in vendors.reteno.fields.items()},
        dotdigital=sorted(set(vendors.dotdigital.data_fields.values())),
        pushtech=sorted(
            {vendors.pushtech.custom_fields.get(n, n) for n in _additional_fields(config)}
        ),
    )


def _additional_fields(config) -> set[str]:
    from contact_pipelines.core.fields import additional_field_name

    return {
        name
        for source in config.sources
        for target in source.columns.values()
        if (name := additional_field_name(target))
    }


def _webhook(args) -> int:
    from contact_pipelines.webhook_app import serve_webhook

    serve_webhook(args.host, args.port, ledger_url=args.ledger_url)
    return 0


def _sandbox(args) -> int:
    from contact_pipelines.sandbox import serve

    serve(args.host, args.port, args.faults, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
