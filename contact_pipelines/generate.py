"""Synthetic contact bases with ground truth: ``contact-pipelines generate``.

``generate`` writes ``OUT/landing/``, a landing folder of exports that look
like what companies bring (a CRM CSV, a cp1251 shop TXT, an events XLSX, a
Reteno mobile-token JSON), the same people repeated across files with
realistic variation and a few unusable rows. Beside it: ``OUT/pipeline.yaml``
mapping every file, ``OUT/truth.parquet`` saying who is who, and
``OUT/generate.json``, what ``generate_changes`` needs to write the next
night's export with a share of the people changed, added or removed. (The
landing scan reads every visible file, so the sidecars stay out of landing/.)

Every value is a pure function of (seed, person id, version) or (seed, row id),
computed with vectorised hashes, so a file is written chunk by chunk in bounded
memory, a seed always gives the same bytes, and an unchanged person is written
identically on the next night.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

LANDING_DIR = "landing"  # the exports; the truth, config and manifest sit beside it
TRUTH_FILE = "truth.parquet"
CONFIG_FILE = "pipeline.yaml"
MANIFEST_FILE = "generate.json"
FORMATS = ("csv", "txt", "xlsx", "json")
# openpyxl writes ~50k rows/s and the JSON reader parses a whole document at
# once, so both stay small; the bulk of a big base goes to CSV/TXT.
ROW_CAPS = {"xlsx": 50_000, "json": 200_000}
CHUNK_ROWS = 100_000
MAX_PEOPLE = 40_000_000  # UA phone numbers are a bijection of the person id below this

VALID, REJECTED = "valid", "rejected"
INVALID_REASONS = ("no_identifier", "invalid_email", "invalid_phone")

TRUTH_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("person_id", pa.int64()),  # null for a row that must be rejected
        pa.field("expected", pa.string(), nullable=False),  # valid | rejected
        pa.field("reason", pa.string()),  # expected reject code, null when valid
        pa.field(
            "row_id", pa.int64(), nullable=False
        ),  # stable across nights: seeds the row's style
        pa.field("version", pa.int32(), nullable=False),  # bumped when the person changes
    ]
)


@dataclass(frozen=True)
class GeneratedBase:
    out: Path
    landing: Path  # OUT/landing: only the export files, so the landing scan sees nothing else
    files: list[Path]
    truth: Path
    config: Path
    rows: int
    people: int
    rejected_rows: int
    changed: int = 0  # people whose profile changed since the previous night
    added: int = 0
    removed: int = 0


@dataclass(frozen=True)
class ExportSpec:
    """One file of the export: its name, format and how it is written."""

    name: str
    format: str
    encoding: str = "utf-8"
    rows: int = 0


@dataclass
class _Manifest:
    seed: int
    duplicate_rate: float
    invalid_rate: float
    files: list[ExportSpec]
    next_person_id: int
    next_row_id: int
    night: int = 0
    history: list[dict] = field(default_factory=list)

    def save(self, out: Path) -> None:
        data = dict(vars(self), files=[vars(spec) for spec in self.files])
        (out / MANIFEST_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> _Manifest:
        path = folder / MANIFEST_FILE
        if not path.exists():
            raise ValueError(
                f"{path} not found: --from must be a folder written by `contact-pipelines generate`"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        data["files"] = [ExportSpec(**spec) for spec in data["files"]]
        return cls(**data)


# ---------------------------------------------------------------- public API


def generate(
    rows: int,
    out: Path,
    files: int = 4,
    formats=FORMATS,
    duplicate_rate: float = 0.08,
    invalid_rate: float = 0.03,
    seed: int = 0,
) -> GeneratedBase:
    """Write a base of ``rows`` rows over ``files`` files into ``out``, with its truth and config."""
    out = Path(out)
    formats = _check_arguments(rows, files, formats, duplicate_rate, invalid_rate)
    specs = _plan_files(rows, files, formats)
    rng = np.random.default_rng([seed, 0])
    invalid_rows = round(rows * invalid_rate)
    duplicate_rows = min(round(rows * duplicate_rate), rows - invalid_rows - 1)
    people = rows - invalid_rows - duplicate_rows
    # one row per person, then the duplicates and the unusable rows, all shuffled over the files
    person_of_row = np.concatenate(
        [
            np.arange(people, dtype=np.int64),
            rng.integers(0, people, duplicate_rows, dtype=np.int64),
            np.full(invalid_rows, -1, dtype=np.int64),
        ]
    )[rng.permutation(rows)]
    rows_table = _rows_table(person_of_row, np.arange(rows, dtype=np.int64), seed)
    manifest = _Manifest(seed, duplicate_rate, invalid_rate, specs, people, rows)
    bounds = np.cumsum([0] + [spec.rows for spec in specs])
    per_file = [rows_table.slice(bounds[i], specs[i].rows) for i in range(len(specs))]
    return _write_base(out, manifest, per_file)


def generate_changes(from_dir: Path, out: Path, changes: float, seed: int = 0) -> GeneratedBase:
    """The next night's export of the base in ``from_dir``: a ``changes`` share of people touched.

    Of the people touched, 60% change their profile (last name, city, plan,
    update time), 20% leave the export and 20% are new. Identifiers never
    change, so an unchanged person's rows are written byte for byte as before.
    """
    from_dir, out = Path(from_dir), Path(out)
    if not 0 <= changes <= 1:
        raise ValueError(f"--changes {changes}: give a share between 0 and 1, e.g. 0.01")
    manifest = _Manifest.load(from_dir)
    truth = pq.read_table(from_dir / TRUTH_FILE)
    rng = np.random.default_rng([manifest.seed, manifest.night + 1, seed])
    person_ids = pc.unique(pc.drop_null(truth.column("person_id"))).to_numpy()
    touched = round(changes * len(person_ids))
    n_removed, n_added = round(touched * 0.2), round(touched * 0.2)
    picked = rng.choice(person_ids, min(touched - n_added, len(person_ids)), replace=False)
    removed, changed = picked[:n_removed], picked[n_removed:]

    kept = truth.filter(pc.invert(pc.is_in(truth.column("person_id"), pa.array(removed))))
    bumped = pc.is_in(kept.column("person_id"), pa.array(changed))
    version = pc.add(kept.column("version"), pc.cast(bumped, pa.int32()))
    kept = kept.set_column(kept.schema.get_field_index("version"), "version", version)
    added_rows = _added_rows(manifest, n_added, rng)
    per_file = _rows_per_file(kept, added_rows, manifest, rng)
    manifest.night += 1
    manifest.history.append({"changed": len(changed), "added": n_added, "removed": n_removed})
    base = _write_base(out, manifest, per_file)
    return GeneratedBase(
        **{**vars(base), "changed": len(changed), "added": n_added, "removed": n_removed}
    )


def add_arguments(subparsers) -> argparse.ArgumentParser:
    """Add the ``generate`` subcommand to the ``contact-pipelines`` argument parser."""
    parser = subparsers.add_parser(
        "generate",
        help="write a synthetic contact base (or the next night's changes) with its ground truth",
        description="Write export files, pipeline.yaml and truth.parquet into --out.",
    )
    parser.add_argument("--rows", type=int, help="rows over all files (new base)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--formats", default=",".join(FORMATS), help="e.g. csv,txt,xlsx,json")
    parser.add_argument("--duplicate-rate", type=float, default=0.08)
    parser.add_argument("--invalid-rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--changes", type=float, help="share of people changed, added or removed (with --from)"
    )
    parser.add_argument(
        "--from", dest="from_dir", type=Path, help="a folder written by generate (with --changes)"
    )
    parser.set_defaults(handler=run_generate_command)
    return parser


def run_generate_command(args) -> int:
    """Handler of ``contact-pipelines generate``; returns the exit code."""
    if (args.changes is None) != (args.from_dir is None):
        return _usage_error("--changes and --from go together: --changes 0.01 --from DIR")
    if args.changes is None and args.rows is None:
        return _usage_error("give --rows N for a new base, or --changes R --from DIR")
    try:
        if args.changes is not None:
            base = generate_changes(args.from_dir, args.out, args.changes, args.seed)
        else:
            formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
            base = generate(
                args.rows,
                args.out,
                args.files,
                formats,
                args.duplicate_rate,
                args.invalid_rate,
                args.seed,
            )
    except ValueError as exc:
        return _usage_error(str(exc))
    print(describe(base))
    return 0


def describe(base: GeneratedBase) -> str:
    lines = [
        f"wrote {base.rows:,} rows for {base.people:,} people "
        f"({base.rejected_rows:,} rows to reject) into {base.landing}",
        *(f"  {path.name}" for path in base.files),
        f"  {base.config.name}, {base.truth.name}",
    ]
    if base.changed or base.added or base.removed:
        lines.append(
            f"changes: {base.changed:,} changed, {base.added:,} added, {base.removed:,} removed"
        )
    lines.append(
        f"run it: contact-pipelines run --landing {base.landing} --config {base.config} "
        "--warehouse DIR"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class IdentityScore:
    precision: float  # pairs put together that are one person / pairs put together
    recall: float  # pairs of one person put together / pairs of one person
    true_pairs: int
    predicted_pairs: int
    matched_pairs: int


def score_identity(truth: pa.Table, identity: pa.Table) -> IdentityScore:
    """Pairwise precision and recall of ``contact_key`` (IDENTITY_SCHEMA) against ``person_id``."""
    keys = ["source_file", "source_row"]
    joined = truth.filter(pc.is_valid(truth.column("person_id"))).join(
        identity.select([*keys, "contact_key"]), keys, join_type="inner"
    )
    true_pairs = _pairs(joined, ["person_id"])
    predicted = _pairs(joined, ["contact_key"])
    matched = _pairs(joined, ["person_id", "contact_key"])
    return IdentityScore(
        matched / predicted if predicted else 1.0,
        matched / true_pairs if true_pairs else 1.0,
        true_pairs,
        predicted,
        matched,
    )


def _pairs(table: pa.Table, by: list[str]) -> int:
    sizes = table.group_by(by).aggregate([([], "count_all")]).column("count_all").to_numpy()
    return int((sizes * (sizes - 1) // 2).sum())


# ---------------------------------------------------------------- planning


def _check_arguments(rows, files, formats, duplicate_rate, invalid_rate) -> tuple[str, ...]:
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"--formats {','.join(formats)}: choose among {','.join(FORMATS)}")
    if rows < 10:
        raise ValueError(f"--rows {rows}: give at least 10 rows")
    if files < 1:
        raise ValueError(f"--files {files}: give at least 1 file")
    for name, rate in (("--duplicate-rate", duplicate_rate), ("--invalid-rate", invalid_rate)):
        if not 0 <= rate < 0.5:
            raise ValueError(f"{name} {rate}: give a share between 0 and 0.5, e.g. 0.05")
    if rows > MAX_PEOPLE:
        raise ValueError(f"--rows {rows}: at most {MAX_PEOPLE:,} (the phone plan runs out)")
    return formats


_FILE_STEMS = {"csv": "crm", "txt": "shop", "xlsx": "events", "json": "mobile_tokens"}


def _plan_files(rows: int, files: int, formats: tuple[str, ...]) -> list[ExportSpec]:
    """Formats in turn; XLSX and JSON files capped, the rest spread over CSV/TXT files."""
    kinds = [formats[i % len(formats)] for i in range(files)]
    share = rows // files
    uncapped = [i for i, kind in enumerate(kinds) if kind not in ROW_CAPS]
    counts = [
        min(share, ROW_CAPS[kind]) if kind in ROW_CAPS and uncapped else share for kind in kinds
    ]
    spill = rows - sum(counts)
    takers = uncapped or list(range(files))
    for position, index in enumerate(takers):
        counts[index] += spill // len(takers) + (position < spill % len(takers))
    txt_seen = 0
    specs = []
    for index, (kind, count) in enumerate(zip(kinds, counts, strict=True)):
        encoding = "utf-8"
        if kind == "txt":  # shop exports alternate between cp1251 and UTF-8
            encoding = "cp1251" if txt_seen % 2 == 0 else "utf-8"
            txt_seen += 1
        name = f"{_FILE_STEMS[kind]}_{index + 1:02d}.{kind}"
        specs.append(ExportSpec(name, kind, encoding, int(count)))
    return specs


def _rows_table(person_of_row: np.ndarray, row_ids: np.ndarray, seed: int) -> pa.Table:
    """row_id, person_id (null when invalid), version and the expected reject reason."""
    invalid = person_of_row < 0
    reason_index = (_hash(seed, 11, row_ids) % len(INVALID_REASONS)).astype(np.int64)
    reasons = pc.take(pa.array(INVALID_REASONS), pa.array(reason_index))
    return pa.table(
        {
            "row_id": pa.array(row_ids, pa.int64()),
            "person_id": pa.array(person_of_row, pa.int64(), mask=invalid),
            "version": pa.array(np.zeros(len(row_ids), np.int32)),
            "reason": pc.if_else(pa.array(invalid), reasons, pa.scalar(None, pa.string())),
        }
    )


def _added_rows(manifest: _Manifest, added: int, rng: np.random.Generator) -> pa.Table:
    """New people: one row each, plus duplicates at the base's duplicate rate."""
    new_people = np.arange(manifest.next_person_id, manifest.next_person_id + added)
    repeats = new_people[rng.random(added) < manifest.duplicate_rate]
    people = rng.permutation(np.concatenate([new_people, repeats]).astype(np.int64))
    row_ids = np.arange(manifest.next_row_id, manifest.next_row_id + len(people), dtype=np.int64)
    manifest.next_person_id += added
    manifest.next_row_id += len(people)
    return _rows_table(people, row_ids, manifest.seed)


def _rows_per_file(
    kept: pa.Table, added: pa.Table, manifest: _Manifest, rng: np.random.Generator
) -> list[pa.Table]:
    """Each file keeps its surviving rows in order; new people land at the end of a file."""
    columns = ["row_id", "person_id", "version", "reason"]
    names = [spec.name for spec in manifest.files]
    weights = np.array([max(spec.rows, 1) for spec in manifest.files], dtype=float)
    target = rng.choice(len(names), added.num_rows, p=weights / weights.sum())
    per_file = []
    for index, name in enumerate(names):
        old = kept.filter(pc.equal(kept.column("source_file"), name)).sort_by("source_row")
        new = added.filter(pa.array(target == index))
        per_file.append(pa.concat_tables([old.select(columns).cast(new.schema), new]))
    return per_file


# ---------------------------------------------------------------- writing


def _write_base(out: Path, manifest: _Manifest, per_file: list[pa.Table]) -> GeneratedBase:
    landing = out / LANDING_DIR
    landing.mkdir(parents=True, exist_ok=True)
    paths, truths = [], []
    specs = []
    for spec, rows in zip(manifest.files, per_file, strict=True):
        spec = ExportSpec(spec.name, spec.format, spec.encoding, rows.num_rows)
        specs.append(spec)
        paths.append(landing / spec.name)
        _WRITERS[spec.format](landing / spec.name, spec, rows, manifest.seed)
        truths.append(_truth_of(spec, rows))
    manifest.files = specs
    truth = pa.concat_tables(truths)
    pq.write_table(truth, out / TRUTH_FILE)
    (out / CONFIG_FILE).write_text(pipeline_yaml(specs), encoding="utf-8")
    manifest.save(out)
    rejected = truth.column("person_id").null_count
    people = len(pc.unique(pc.drop_null(truth.column("person_id"))))
    return GeneratedBase(
        out, landing, paths, out / TRUTH_FILE, out / CONFIG_FILE, truth.num_rows, people, rejected
    )


def _truth_of(spec: ExportSpec, rows: pa.Table) -> pa.Table:
    # text formats: line 1 is the header; XLSX: sheet row 1; JSON: records count from 1
    first_row = 1 if spec.format == "json" else 2
    invalid = pc.is_null(rows.column("person_id"))
    return pa.table(
        {
            "source_file": pa.array([spec.name] * rows.num_rows, pa.string()),
            "source_row": pa.array(np.arange(first_row, first_row + rows.num_rows), pa.int64()),
            "person_id": rows.column("person_id"),
            "expected": pc.if_else(invalid, REJECTED, VALID),
            "reason": rows.column("reason"),
            "row_id": rows.column("row_id"),
            "version": rows.column("version"),
        },
        schema=TRUTH_SCHEMA,
    )


def _chunks(rows: pa.Table) -> Iterator[pa.Table]:
    for start in range(0, max(rows.num_rows, 1), CHUNK_ROWS):
        yield rows.slice(start, CHUNK_ROWS)


def _write_text(path: Path, spec: ExportSpec, rows: pa.Table, seed: int) -> None:
    delimiter = "," if spec.format == "csv" else ";"
    columns_of = _crm_columns if spec.format == "csv" else _shop_columns
    with path.open("wb") as stream:
        for index, chunk in enumerate(_chunks(rows)):
            table = pa.table(columns_of(_Contacts(chunk, seed, region="UA")))
            buffer = pa.BufferOutputStream()
            options = pacsv.WriteOptions(
                include_header=index == 0, delimiter=delimiter, quoting_style="needed"
            )
            pacsv.write_csv(table, buffer, options)
            data = buffer.getvalue().to_pybytes()
            stream.write(data if spec.encoding == "utf-8" else data.decode().encode(spec.encoding))


def _write_xlsx(path: Path, spec: ExportSpec, rows: pa.Table, seed: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Attendees")
    for index, chunk in enumerate(_chunks(rows)):
        columns = _event_columns(_Contacts(chunk, seed, region="GB"))
        if index == 0:
            sheet.append(list(columns))
        # openpyxl takes one Python row at a time; the cap keeps this loop small
        for row in zip(*(column.to_pylist() for column in columns.values()), strict=True):
            sheet.append(row)
    workbook.save(path)


def _write_json(path: Path, spec: ExportSpec, rows: pa.Table, seed: int) -> None:
    with path.open("w", encoding="utf-8") as stream:
        stream.write('{"contacts": [\n')
        for index, chunk in enumerate(_chunks(rows)):
            records = _mobile_token_records(_Contacts(chunk, seed, region=None))
            if index and len(records):
                stream.write(",\n")
            stream.write(",\n".join(records.to_pylist()))
        stream.write('\n], "dedupeOn": "externalCustomerId"}\n')


_WRITERS = {"csv": _write_text, "txt": _write_text, "xlsx": _write_xlsx, "json": _write_json}


def pipeline_yaml(specs: list[ExportSpec]) -> str:
    """A config with one source per file pattern, vendor field maps and segments."""
    present = {spec.format for spec in specs}
    sources = [dict(_SOURCES[kind]) for kind in FORMATS if kind in present]
    config = {
        "shards": 8,
        "default_region": "UA",
        "sources": sources,
        "segments": [
            {"name": "Ukraine", "rule": "country == 'UA'"},
            {"name": "Gold plan", "rule": "field:plan_type == 'gold'"},
        ],
        "vendors": {
            "reteno": {"dedupe_on": "email_or_sms", "fields": {"plan_type": 12345}},
            "dotdigital": {
                "match_identifier": "email",
                "data_fields": {"first_name": "FIRSTNAME", "last_name": "LASTNAME"}
                | ({"plan_type": "PLAN"} if "csv" in present else {}),
                "lists": {"Customers": 101, "VIP": 102, "Ukraine": 103},
            },
            "pushtech": {
                "match_contact_user_id": True,
                "lists": {"Customers": "5f1c0a", "VIP": "5f1c0b"},
            },
        },
    }
    header = "# Written by `contact-pipelines generate`: one source per file pattern.\n"
    return header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


_SOURCES = {
    "csv": {
        "name": "crm",
        "match": "crm_*.csv",
        "default_region": "UA",
        "priority": 10,
        "date_order": "dmy",
        "columns": {
            "Client ID": "external_id",
            "E-mail": "email",
            "Birthday": "birth_date",
            "Plan": "field:plan_type",
            "Groups": "groups",
            "Updated": "updated_at",
        },
    },
    "txt": {
        "name": "shop",
        "match": "shop_*.txt",
        "default_region": "UA",
        "priority": 5,
        "date_order": "dmy",
        "delimiter": ";",
        "columns": {"Подписка": "email_status", "Дата изменения": "updated_at"},
    },
    "xlsx": {
        "name": "events",
        "match": "events_*.xlsx",
        "default_region": "GB",
        "priority": 3,
        "columns": {"Marketing consent": "consent_marketing", "Signed up": "updated_at"},
    },
    "json": {
        "name": "mobile_app",
        "match": "mobile_tokens_*.json",
        "priority": 1,
        "columns": {
            "externalCustomerId": "external_id",
            "firstName": "first_name",
            "lastName": "last_name",
            "channels.email": "email",
            "channels.sms": "phone",
            "channels.mobilepush": "push_token",
            "channels.mobilepush.device.appId": "push_app_id",
            "channels.mobilepush.device.deviceModel": "push_device_model",
            "channels.mobilepush.device.os": "push_os",
            "channels.mobilepush.device.locale": "push_locale",
            "channels.mobilepush.device.appVersion": "push_app_version",
        },
    },
}


# ---------------------------------------------------------------- values

_UA_FIRST = (
    ("Olena", "Олена", "F"), ("Iryna", "Ірина", "F"), ("Kateryna", "Катерина", "F"),
    ("Yulia", "Юлія", "F"), ("Oksana", "Оксана", "F"), ("Sofia", "Софія", "F"),
    ("Halyna", "Галина", "F"), ("Nataliia", "Наталія", "F"), ("Mariia", "Марія", "F"),
    ("Viktoria", "Вікторія", "F"), ("Andriy", "Андрій", "M"), ("Taras", "Тарас", "M"),
    ("Serhiy", "Сергій", "M"), ("Petro", "Петро", "M"), ("Oleksandr", "Олександр", "M"),
    ("Dmytro", "Дмитро", "M"), ("Mykola", "Микола", "M"), ("Ivan", "Іван", "M"),
    ("Yuriy", "Юрій", "M"), ("Bohdan", "Богдан", "M"),
)  # fmt: skip
_UA_LAST = (
    ("Kovalenko", "Коваленко"), ("Shevchenko", "Шевченко"), ("Bondarenko", "Бондаренко"),
    ("Tkachenko", "Ткаченко"), ("Kravchenko", "Кравченко"), ("Oliynyk", "Олійник"),
    ("Melnyk", "Мельник"), ("Moroz", "Мороз"), ("Lysenko", "Лисенко"), ("Marchenko", "Марченко"),
    ("Savchenko", "Савченко"), ("Rudenko", "Руденко"), ("Petrenko", "Петренко"),
    ("Boyko", "Бойко"), ("Tkachuk", "Ткачук"), ("Kovalchuk", "Ковальчук"),
    ("Polishchuk", "Поліщук"), ("Ponomarenko", "Пономаренко"), ("Levchenko", "Левченко"),
    ("Honchar", "Гончар"),
)  # fmt: skip
_GB_FIRST = (
    ("Amelia", "F"), ("Olivia", "F"), ("Isla", "F"), ("Emily", "F"), ("Grace", "F"),
    ("Charlotte", "F"), ("Jack", "M"), ("Harry", "M"), ("George", "M"), ("Oliver", "M"),
    ("Thomas", "M"), ("James", "M"),
)  # fmt: skip
_GB_LAST = (
    "Hart", "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas",
    "Roberts", "Walker", "Wright", "Clarke", "Hughes",
)  # fmt: skip
_UA_CITIES = (("Kyiv", "Київ"), ("Lviv", "Львів"), ("Kharkiv", "Харків"), ("Odesa", "Одеса"),
              ("Dnipro", "Дніпро"), ("Vinnytsia", "Вінниця"), ("Poltava", "Полтава"))  # fmt: skip
_GB_CITIES = ("London", "Manchester", "Leeds", "Bristol", "Edinburgh", "Cardiff", "York")
_DOMAINS = ("gmail.com", "ukr.net", "i.ua", "example.com", "outlook.com", "yahoo.co.uk")
_UA_OPERATORS = ("67", "50", "63", "97")
# GB mobiles 79x0..79x9 with x in 0,2,4-9: every one is valid for phonenumbers
_GB_PREFIXES = tuple(f"79{a}{b}" for a in "02456789" for b in "0123456789")
_PLANS = ("basic", "silver", "gold")
_DEVICES = (("iPhone 13", "iOS"), ("iPhone 15", "iOS"), ("Pixel 7", "Android"),
            ("Galaxy S23", "Android"), ("iPad Air", "iOS"))  # fmt: skip
_APP_VERSIONS = ("4.1.5", "4.1.6", "4.2.0")
_APP_ID = "83b77a49-fc28-409b-aeaa-68c9d544ab9d"
_BAD_EMAILS = ("ivan@@mail.test", "no-at-sign.example.com", "petro@", "@gmail.com")
_BAD_PHONES = ("12345", "067 12", "+380 12", "000")


def _hash(seed: int, salt: int, *keys: np.ndarray) -> np.ndarray:
    """splitmix64 over (seed, salt, keys...): uint64, vectorised, the same on every machine."""
    # mixing (seed, salt) first makes the streams of two salts unrelated
    state = np.full(
        len(keys[0]), _mix(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) ^ _mix(np.uint64(salt)))
    )
    for key in keys:
        state = _mix(state ^ np.asarray(key).astype(np.uint64))
    return state


def _mix(state):
    with np.errstate(over="ignore"):
        state = state + np.uint64(0x9E3779B97F4A7C15)
        state = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        state = (state ^ (state >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return state ^ (state >> np.uint64(31))


def _unit(hashed: np.ndarray) -> np.ndarray:
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _pick(options, index: np.ndarray) -> pa.Array:
    return pc.take(pa.array(options), pa.array(index % len(options)))


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _digits(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width, padding="0")


def _hex_tokens(hashes: list[np.ndarray]) -> pa.Array:
    """64 upper-case hex digits per row, built as one buffer (no per-row formatting)."""
    raw = np.stack(hashes, axis=1).astype(">u8").tobytes().hex().upper().encode()
    width = 16 * len(hashes)
    count = len(hashes[0])
    offsets = pa.py_buffer(np.arange(0, (count + 1) * width, width, dtype=np.int32).tobytes())
    return pa.Array.from_buffers(pa.string(), count, [None, offsets, pa.py_buffer(raw)])


def _null() -> pa.Scalar:
    return pa.scalar(None, pa.string())


class _Contacts:
    """The values of one chunk of rows, as Arrow columns, for a file of ``region``.

    Person values hash (seed, person id[, version]); the way a row writes them
    (email case, phone form) hashes (seed, row id), so duplicates vary.
    """

    def __init__(self, rows: pa.Table, seed: int, region: str | None):
        self.count = rows.num_rows
        self.invalid = rows.column("person_id").is_null().combine_chunks()
        row_ids = rows.column("row_id").to_numpy()
        # unusable rows get a made-up person far above every real id, for their names
        person = pc.fill_null(rows.column("person_id"), -1).to_numpy()
        self.person = np.where(person < 0, row_ids + 10**12, person)
        self.version = rows.column("version").to_numpy().astype(np.int64)
        self.reason = rows.column("reason").combine_chunks()
        self.row_ids = row_ids
        self.seed = seed
        self.region = region
        self.ua = _unit(self._person_hash(1)) < 0.8

    def _person_hash(self, salt: int, versioned: bool = False) -> np.ndarray:
        """A person's value; versioned values move when the person changes (version > 0)."""
        stable = _hash(self.seed, salt, self.person)
        if not versioned or not self.version.any():
            return stable
        return np.where(self.version > 0, _hash(self.seed, salt, self.person, self.version), stable)

    def _row_hash(self, salt: int) -> np.ndarray:
        return _hash(self.seed, 1000 + salt, self.row_ids)

    def _where_ua(self, ua_values, gb_values) -> pa.Array:
        return pc.if_else(pa.array(self.ua), ua_values, gb_values)

    # -- names and profile

    def first_name(self, cyrillic: bool = False) -> pa.Array:
        index = self._person_hash(2)
        ua = _pick([n[1] if cyrillic else n[0] for n in _UA_FIRST], index)
        return self._where_ua(ua, _pick([n[0] for n in _GB_FIRST], index))

    def gender(self) -> pa.Array:
        index = self._person_hash(2)
        ua = _pick([n[2] for n in _UA_FIRST], index)
        return self._where_ua(ua, _pick([n[1] for n in _GB_FIRST], index))

    def last_name(self, cyrillic: bool = False, versioned: bool = True) -> pa.Array:
        # a changed person may take a new last name (marriage); the email keeps the old one
        index = self._person_hash(3, versioned)
        ua = _pick([n[1] if cyrillic else n[0] for n in _UA_LAST], index)
        return self._where_ua(ua, _pick(_GB_LAST, index))

    def city(self, cyrillic: bool = False) -> pa.Array:
        index = self._person_hash(4, versioned=True)
        ua = _pick([c[1] if cyrillic else c[0] for c in _UA_CITIES], index)
        return self._where_ua(ua, _pick(_GB_CITIES, index))

    def country(self) -> pa.Array:
        spelled = _unit(self._row_hash(5)) < 0.5  # exports spell it out or use the code
        ua = pc.if_else(pa.array(spelled), "Ukraine", "UA")
        return self._where_ua(ua, pc.if_else(pa.array(spelled), "United Kingdom", "GB"))

    def language(self) -> pa.Array:
        spelled = pa.array(_unit(self._row_hash(6)) < 0.5)
        return self._where_ua(
            pc.if_else(spelled, "Ukrainian", "uk"), pc.if_else(spelled, "English", "en")
        )

    def birth_date(self) -> pa.Array:
        days = (self._person_hash(7) % 20_000).astype("timedelta64[D]")
        born = pa.array(np.datetime64("1950-01-01") + days)
        return pc.strftime(born, format="%d.%m.%Y")

    def updated(self) -> pa.Array:
        """Update time: spread over 2024-2026, or after the base night once the person changed."""
        seconds = (self._person_hash(8, versioned=True) % (1000 * 86400)).astype(np.int64)
        base = np.datetime64("2024-01-01T00:00:00", "s") + seconds.astype("timedelta64[s]")
        night = np.datetime64("2026-11-01T09:00:00", "s") + (self.version * 86400).astype(
            "timedelta64[s]"
        )
        return pa.array(np.where(self.version > 0, night, base))

    def plan(self) -> pa.Array:
        return _pick(_PLANS, self._person_hash(9, versioned=True))

    def groups(self) -> pa.Array:
        vip = pa.array(_unit(self._person_hash(10)) < 0.1)
        return pc.if_else(vip, "Customers;VIP", "Customers")

    # -- identifiers

    def _has_email(self) -> np.ndarray:
        return _unit(self._person_hash(12)) < 0.85

    def _has_phone(self) -> np.ndarray:
        return (_unit(self._person_hash(13)) < 0.7) | ~self._has_email()

    def external_id(self) -> pa.Array:
        value = _join("C-", _digits(self.person + 1, 8))
        return pc.if_else(self.invalid, _null(), value)

    def email(self) -> pa.Array:
        """first.last.<id>@domain, written lower, Title, UPPER or with spaces around."""
        local = _join(self.first_name(), ".", self.last_name(versioned=False), ".")
        local = pc.utf8_lower(_join(local, pc.cast(pa.array(self.person), pa.string())))
        clean = _join(local, "@", _pick(_DOMAINS, self._person_hash(14)))
        style = np.searchsorted([0.8, 0.88, 0.94], _unit(self._row_hash(15)))
        written = pc.choose(
            pa.array(style),
            clean,
            pc.utf8_title(clean),
            pc.utf8_upper(clean),
            _join("  ", clean, " "),
        )
        present = pc.if_else(pa.array(self._has_email()), written, _null())
        bad = _pick(_BAD_EMAILS, self._row_hash(16))
        return self._identifier(present, bad, "invalid_email")

    def _identifier(self, good: pa.Array, bad: pa.Array, reason: str) -> pa.Array:
        """A valid row's value; on a row to reject, the bad value for its reason, else null."""
        bad_here = pc.equal(pc.fill_null(self.reason, ""), reason)
        return pc.if_else(self.invalid, pc.if_else(bad_here, bad, _null()), good)

    def _phone_parts(self) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Country code, national number and where its first group ends, per person."""
        with np.errstate(over="ignore"):
            # bijections of the person id: distinct people never share a number
            ua_local = ((self.person // 4) * 7_654_321 + 1_234_567) % 10**7
            gb_local = ((self.person // len(_GB_PREFIXES)) * 654_321 + 123_457) % 10**6
        ua_nsn = _join(_pick(_UA_OPERATORS, self.person), _digits(ua_local, 7))
        gb_nsn = _join(_pick(_GB_PREFIXES, self.person), _digits(gb_local, 6))
        nsn = self._where_ua(ua_nsn, gb_nsn)
        return self._where_ua("380", "44"), nsn, self._where_ua(2, 4)

    def phone_digits(self) -> pa.Array:
        """International digits without + (Reteno's form, and a spreadsheet's number cell)."""
        code, nsn, _ = self._phone_parts()
        return _join(code, nsn)

    def phone(self) -> pa.Array:
        """A phone written the many ways people do; national forms only in the file's own region."""
        code, nsn, split = self._phone_parts()
        head = pc.if_else(
            pc.equal(split, 2),
            pc.utf8_slice_codeunits(nsn, 0, 2),
            pc.utf8_slice_codeunits(nsn, 0, 4),
        )
        tail = pc.if_else(
            pc.equal(split, 2), pc.utf8_slice_codeunits(nsn, 2), pc.utf8_slice_codeunits(nsn, 4)
        )
        forms = (
            _join("+", code, nsn),
            _join("+", code, " ", head, " ", tail),
            _join(code, nsn),
            _join("0", head, " ", tail),
            _join("(0", head, ") ", tail),
            _join("0", nsn),
        )
        home = (
            np.full(self.count, False)
            if self.region is None
            else (self.ua == (self.region == "UA"))
        )
        style = (self._row_hash(17) % np.where(home, 6, 3).astype(np.uint64)).astype(np.int64)
        written = pc.choose(pa.array(style), *forms)
        present = pc.if_else(pa.array(self._has_phone()), written, _null())
        return self._identifier(present, _pick(_BAD_PHONES, self._row_hash(18)), "invalid_phone")

    def push_token(self) -> pa.Array:
        token = _hex_tokens([self._person_hash(20 + i) for i in range(4)])
        return pc.if_else(self.invalid, _null(), token)

    def device(self, part: int) -> pa.Array:
        return _pick([d[part] for d in _DEVICES], self._person_hash(24))


def _crm_columns(people: _Contacts) -> dict[str, pa.Array]:
    return {
        "Client ID": people.external_id(),
        "E-mail": people.email(),
        "Phone": people.phone(),
        "First name": people.first_name(),
        "Last name": people.last_name(),
        "Birthday": people.birth_date(),
        "Gender": people.gender(),
        "Country": people.country(),
        "City": people.city(),
        "Plan": people.plan(),
        "Groups": people.groups(),
        "Updated": pc.strftime(people.updated(), format="%d.%m.%Y %H:%M"),
    }


def _shop_columns(people: _Contacts) -> dict[str, pa.Array]:
    subscription = _pick(("да", "да", "да", "нет", "отписан"), people._person_hash(30, True))
    return {
        "Email": people.email(),
        "Телефон": people.phone(),
        "Имя": people.first_name(cyrillic=True),
        "Фамилия": people.last_name(cyrillic=True),
        "Город": people.city(cyrillic=True),
        "Подписка": subscription,
        "Дата изменения": pc.strftime(people.updated(), format="%d.%m.%Y"),
    }


def _event_columns(people: _Contacts) -> dict[str, pa.Array]:
    phone = people.phone()
    # half the spreadsheets keep phones as number cells (international digits, no +)
    as_number = pa.array(_unit(people._row_hash(31)) < 0.5)
    number_cells = pc.cast(pc.if_else(people.invalid, _null(), people.phone_digits()), pa.int64())
    return {
        "Email": people.email(),
        "Phone": _PhoneCells(
            phone,
            pc.if_else(
                pc.and_(as_number, phone.is_valid()), number_cells, pa.scalar(None, pa.int64())
            ),
        ),
        "First name": people.first_name(),
        "Last name": people.last_name(),
        "Country": people.country(),
        "Language": people.language(),
        "Marketing consent": pc.if_else(
            pa.array(_unit(people._person_hash(32)) < 0.6), "Yes", "No"
        ),
        "Signed up": people.updated(),
    }


class _PhoneCells:
    """Phone cells: a number where ``numbers`` has one, else the text."""

    def __init__(self, text: pa.Array, numbers: pa.Array):
        self.text, self.numbers = text, numbers

    def to_pylist(self) -> list:
        return [
            number if number is not None else text
            for text, number in zip(self.text.to_pylist(), self.numbers.to_pylist(), strict=True)
        ]


def _mobile_token_records(people: _Contacts) -> pa.Array:
    """One Reteno mobile-token contact per row as JSON text, assembled column-wise."""
    device = _join(
        '{"appId": "', _APP_ID, '", "deviceModel": "', people.device(0), '", "os": "',
        people.device(1), '", "locale": "', people._where_ua("uk", "en"), '", "appVersion": "',
        _pick(_APP_VERSIONS, people._person_hash(25)), '"}',
    )  # fmt: skip
    push = _join(
        '{"type": "mobilepush", "value": "', people.push_token(), '", "device": ', device, "}"
    )
    email = _join('{"type": "email", "value": "', people.email(), '"}')
    sms_value = pc.if_else(people.invalid, people.phone(), people.phone_digits())
    has_phone = pc.or_(people.invalid, pa.array(people._has_phone()))
    sms = _join('{"type": "sms", "value": "', pc.if_else(has_phone, sms_value, _null()), '"}')
    # null_handling="skip" loses all-null rows in pyarrow 26, so: ", " before each, then trim
    pieces = [pc.fill_null(_join(", ", channel), "") for channel in (push, email, sms)]
    channels = pc.utf8_ltrim(_join(*pieces), characters=", ")
    external = pc.fill_null(_join(', "externalCustomerId": "', people.external_id(), '"'), "")
    return _join(
        '{"firstName": "', people.first_name(), '", "lastName": "', people.last_name(),
        '", "channels": [', channels, "]", external, "}",
    )  # fmt: skip


def _usage_error(message: str) -> int:
    print(f"contact-pipelines generate: error: {message}", file=sys.stderr)
    return 2
