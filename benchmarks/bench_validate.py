"""Benchmark: validated_contacts rows/s against a plain per-row phonenumbers reference.

    .venv/bin/python benchmarks/bench_validate.py [--rows 1000000] [--reference-rows 100000]

Generates ``--rows`` contacts (80% distinct phones in mixed formats and
regions, emails, birth dates, names, genders), splits them into one source per
default region and runs ``validate_chunk`` over 100k-row chunks, as
``validate_file`` does. The reference parses every phone of a sample
(``--reference-rows``, the first rows of each region) one row at a time with
phonenumbers, no cache (``parse_phone.__wrapped__``); its rate is measured on
the sample and extrapolated to the whole set. The script asserts that every
sampled row's phone and phone type in validated_contacts are identical to the
reference (a rejected row must have no valid phone), and exits non-zero if not.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import phonenumbers
import pyarrow as pa
from phonenumbers import PhoneNumberType

from contact_pipelines.core.config import SourceConfig
from contact_pipelines.core.mapping import resolve_columns
from contact_pipelines.core.normalize.phone import parse_phone
from contact_pipelines.core.validate import validate_chunk

REGIONS = ("UA", "GB", "US", "DE", "PL", "FR", "IT", "ES", "RU", "BR", "IN", "CA")
HEADERS = ("Phone", "E-mail", "First name", "Birth date", "Gender")
CHUNK_ROWS = 100_000


def _templates(region: str) -> list[tuple[int, str, str]]:
    """(country code, national significant number, national prefix) examples of a region."""
    found = []
    for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix or ""
            nsn = phonenumbers.national_significant_number(example)
            found.append((example.country_code, nsn, prefix))
    return found


def _phone(rng: random.Random, template: tuple[int, str, str], serial: int) -> str:
    code, nsn, prefix = template
    tail = str(serial % 10**6).zfill(6)
    national = nsn[: max(len(nsn) - 6, 1)] + tail[-min(6, len(nsn) - 1) :]
    if rng.random() < 0.03:
        national = national[:-2]  # a few too short: invalid
    shape = rng.randrange(8)
    if shape == 0:
        return f"+{code}{national}"
    if shape == 1:
        return f"+{code} {national[:3]} {national[3:6]}-{national[6:]}"
    if shape == 2:
        return f"{prefix}{national}"
    if shape == 3:
        return f"({prefix}{national[:3]}) {national[3:6]}-{national[6:]}"
    if shape == 4:
        return f"00{code}{national}"
    if shape == 5:
        return f"{code}{national}"  # a spreadsheet lost the "+"
    if shape == 6:
        return f"{prefix}{national[:3]}.{national[3:6]}.{national[6:]}"
    return f"+{code}{national}.0" if rng.random() < 0.5 else f"tel: +{code} {national}"


def generate(rows: int, seed: int = 7) -> dict[str, dict[str, list]]:
    """Columns per region; about 80% of the phones are distinct."""
    rng = random.Random(seed)
    templates = {region: _templates(region) for region in REGIONS}
    by_region: dict[str, dict[str, list]] = {
        region: {header: [] for header in HEADERS} for region in REGIONS
    }
    distinct = int(rows * 0.8)
    for i in range(rows):
        region = REGIONS[i % len(REGIONS)]
        serial = i if i < distinct else rng.randrange(distinct)
        columns = by_region[region]
        columns["Phone"].append(_phone(rng, rng.choice(templates[region]), serial))
        columns["E-mail"].append(f"user{i}@example{i % 97}.com" if rng.random() < 0.6 else None)
        columns["First name"].append(rng.choice(("Ivan", "  Olena ", "Jean-Luc", None)))
        columns["Birth date"].append(
            rng.choice((f"{1 + i % 28:02d}.0{1 + i % 9}.19{50 + i % 50}", "1990-02-31", None))
        )
        columns["Gender"].append(rng.choice(("m", "Female", "ж", "?", None)))
    return by_region


def _chunks(columns: dict[str, list], region: str) -> list[pa.Table]:
    n = len(columns["Phone"])
    table = pa.table(
        {
            **{h: pa.array(columns[h], pa.string()) for h in HEADERS},
            "source_file": pa.array([f"bench_{region}.csv"] * n),
            "source_row": pa.array(range(2, n + 2), pa.int64()),
            "row_defect": pa.nulls(n, pa.string()),
        }
    )
    return [table.slice(start, CHUNK_ROWS) for start in range(0, n, CHUNK_ROWS)]


def run_pipeline(by_region: dict[str, dict[str, list]]) -> tuple[float, dict[str, dict]]:
    """Seconds spent in validate_chunk, and per region {source_row: (phone, type)} of valid rows."""
    chunks = {region: _chunks(columns, region) for region, columns in by_region.items()}
    phones: dict[str, dict] = {}
    started = time.perf_counter()
    for region, tables in chunks.items():
        source = SourceConfig(name=region, match="*", default_region=region)
        mapping = resolve_columns(list(HEADERS), source)
        valid = [validate_chunk(t, mapping, source).valid for t in tables]
        phones[region] = valid
    seconds = time.perf_counter() - started
    for region, valid in phones.items():
        table = pa.concat_tables(valid)
        phones[region] = dict(
            zip(
                table["source_row"].to_pylist(),
                zip(table["phone"].to_pylist(), table["phone_type"].to_pylist(), strict=True),
                strict=True,
            )
        )
    return seconds, phones


def run_reference(by_region: dict[str, dict[str, list]], per_region: int) -> tuple[float, dict]:
    """Plain per-row phonenumbers (no cache) on the first rows of each region."""
    parse_uncached = parse_phone.__wrapped__
    expected = {}
    started = time.perf_counter()
    for region, columns in by_region.items():
        for index, value in enumerate(columns["Phone"][:per_region]):
            expected[(region, index + 2)] = parse_uncached(value.strip(), region)
    return time.perf_counter() - started, expected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    args = parser.parse_args()
    by_region = generate(args.rows)
    seconds, phones = run_pipeline(by_region)
    per_region = args.reference_rows // len(REGIONS)
    reference_seconds, expected = run_reference(by_region, per_region)
    sampled = len(expected)
    mismatches = [
        (region, row, want, phones[region].get(row, (None, None)))
        for (region, row), want in expected.items()
        if phones[region].get(row, (None, None)) != want
    ]
    reference_rate = sampled / reference_seconds
    print(f"rows: {args.rows:,} (80% distinct phones, {len(REGIONS)} regions, 8 formats)")
    print(
        f"validated_contacts (validate_chunk): {args.rows / seconds:,.0f} rows/s ({seconds:.1f} s)"
    )
    print(
        f"per-row phonenumbers reference: {reference_rate:,.0f} rows/s, measured on "
        f"{sampled:,} rows, extrapolated to {args.rows / reference_rate:.1f} s for {args.rows:,}"
    )
    print(f"identical phone and type on {sampled - len(mismatches):,}/{sampled:,} sampled rows")
    for mismatch in mismatches[:10]:
        print("MISMATCH", mismatch)
    assert not mismatches, f"{len(mismatches)} rows differ from phonenumbers"
    return 0


if __name__ == "__main__":
    sys.exit(main())
