"""Data-quality suites on validated contacts, run with Great Expectations 1.x.

Each :class:`QualityCheck` is one Dagster asset check: a few GX expectations
and a severity. ``ERROR`` checks guard what the vendors would refuse or
misread (a malformed email or phone, a non-ISO date, an unknown code, a row
counted twice) and block the downstream syncs; ``WARN`` checks report what
is legal but worth a look (one external id on several rows of one file).
Failing examples are masked with :mod:`contact_pipelines.core.mask` before
they leave this module, so they can go straight into asset metadata.

Great Expectations is imported on first use: it takes seconds to import and
only the checks need it. The Dagster layer (``defs/validate``) maps a
:class:`QualityOutcome` to an ``AssetCheckResult``; nothing here imports Dagster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pycountry

from contact_pipelines.core.fields import (
    GENDERS,
    SOURCE_FILE,
    SOURCE_ROW,
    SUBSCRIPTION_STATUSES,
    VALIDATED_SCHEMA,
)
from contact_pipelines.core.mask import mask_value

Severity = Literal["WARN", "ERROR"]

# The shapes validate_chunk writes; the vendors take exactly these.
EMAIL_PATTERN = r"^[^@\s]+@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]{2,63}$"
E164_PATTERN = r"^\+[1-9]\d{1,14}$"
DATE_PATTERN = r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$"
TIMESTAMP_PATTERN = r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T[0-2]\d:[0-5]\d:[0-5]\dZ$"
PHONE_TYPES = (
    "fixed_line", "mobile", "fixed_line_or_mobile", "toll_free", "premium_rate", "shared_cost",
    "voip", "personal_number", "pager", "uan", "voicemail", "unknown",
)  # fmt: skip
MAX_EXAMPLES = 5
_TABLE_LEVEL = ("ExpectTableColumnsToMatchOrderedList",)
_ROW_IDENTIFIERS = ("external_id", "email", "phone", "push_token", "webpush_token")


@dataclass(frozen=True)
class Expect:
    """One GX expectation: its class name in ``gx.expectations`` and its arguments."""

    kind: str  # e.g. "ExpectColumnValuesToMatchRegex"
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class QualityCheck:
    name: str  # the Dagster check name
    severity: Severity
    description: str
    expectations: tuple[Expect, ...]


@dataclass(frozen=True)
class ExpectationResult:
    expectation: str  # e.g. "expect_column_values_to_match_regex(email)"
    success: bool
    unexpected_count: int
    unexpected_percent: float
    examples: list[Any] = field(default_factory=list)  # masked


@dataclass(frozen=True)
class QualityOutcome:
    check: QualityCheck
    passed: bool
    results: list[ExpectationResult]

    @property
    def summary(self) -> str:
        failed = [r for r in self.results if not r.success]
        if not failed:
            return f"{len(self.results)} expectations met"
        return "; ".join(
            f"{r.expectation}: {r.unexpected_count} rows ({r.unexpected_percent:.2f}%), "
            f"e.g. {r.examples}"
            for r in failed
        )


def _regex(column: str, pattern: str) -> Expect:
    return Expect("ExpectColumnValuesToMatchRegex", {"column": column, "regex": pattern})


def _in_set(column: str, values: tuple[str, ...] | list[str]) -> Expect:
    return Expect("ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(values)})


@cache
def _language_codes() -> list[str]:
    return sorted(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


@cache
def _country_codes() -> list[str]:
    return sorted(country.alpha_2 for country in pycountry.countries)


@cache
def validated_suite() -> tuple[QualityCheck, ...]:
    """The checks on validated_contacts, one Dagster asset check each."""
    return (
        QualityCheck(
            "schema",
            "ERROR",
            "Columns are exactly the validated_contacts schema; file, row and source never null.",
            (
                Expect("ExpectTableColumnsToMatchOrderedList", {"column_list": _schema_names()}),
                *(
                    Expect("ExpectColumnValuesToNotBeNull", {"column": column})
                    for column in (SOURCE_FILE, SOURCE_ROW, "source_name")
                ),
            ),
        ),
        QualityCheck(
            "email_format",
            "ERROR",
            "Every email is lower-case with an ASCII (punycode) domain.",
            (_regex("email", EMAIL_PATTERN),),
        ),
        QualityCheck(
            "phone_e164",
            "ERROR",
            "Every phone is E.164 (+ and at most 15 digits) with a known number type.",
            (_regex("phone", E164_PATTERN), _in_set("phone_type", PHONE_TYPES)),
        ),
        QualityCheck(
            "iso_dates",
            "ERROR",
            "birth_date is YYYY-MM-DD; consent_date and updated_at are YYYY-MM-DDTHH:MM:SSZ.",
            (
                _regex("birth_date", DATE_PATTERN),
                _regex("consent_date", TIMESTAMP_PATTERN),
                _regex("updated_at", TIMESTAMP_PATTERN),
            ),
        ),
        QualityCheck(
            "allowed_codes",
            "ERROR",
            "gender, language (ISO-639-1), country (ISO-3166 alpha-2) and statuses are codes.",
            (
                _in_set("gender", GENDERS),
                _in_set("language", _language_codes()),
                _in_set("country", _country_codes()),
                _in_set("email_status", SUBSCRIPTION_STATUSES),
                _in_set("sms_status", SUBSCRIPTION_STATUSES),
            ),
        ),
        QualityCheck(
            "unique_rows",
            "ERROR",
            "No source record is counted twice: (row, identifiers) is unique in the file "
            "(a JSON record may yield one row per device, so the row number alone is not).",
            (
                Expect(
                    "ExpectCompoundColumnsToBeUnique",
                    {"column_list": [SOURCE_ROW, *_ROW_IDENTIFIERS]},
                ),
            ),
        ),
        QualityCheck(
            "unique_external_ids",
            "WARN",
            "An external id names one person: repeats within a file are merged by identity, "
            "but usually mean a duplicated export.",
            (Expect("ExpectColumnValuesToBeUnique", {"column": "external_id"}),),
        ),
    )


def _schema_names() -> list[str]:
    return list(VALIDATED_SCHEMA.names)


def run_suite(
    table: pa.Table, suite: tuple[QualityCheck, ...], column_names: list[str] | None = None
) -> list[QualityOutcome]:
    """Run every check's expectations on ``table``; failing examples come back masked.

    ``table`` may hold only :func:`columns_needed`; ``column_names`` is then the stored
    table's full column list, for the schema expectation.
    """
    frame = _frame_for(table, suite, column_names or table.column_names)
    batch = _batch(frame)
    return [_run_check(batch, check) for check in suite]


def columns_needed(suite: tuple[QualityCheck, ...]) -> list[str]:
    """The scalar columns the suite reads (list and map columns stay out of pandas)."""
    names = {
        column
        for check in suite
        for expect in check.expectations
        if expect.kind not in _TABLE_LEVEL  # these read the column list, not the values
        for column in expect.kwargs.get("column_list", [expect.kwargs.get("column")])
    }
    return [name for name in VALIDATED_SCHEMA.names if name in names]


def _frame_for(
    table: pa.Table, suite: tuple[QualityCheck, ...], column_names: list[str]
) -> pd.DataFrame:
    needed = [name for name in columns_needed(suite) if name in table.column_names]
    frame = table.select(needed).to_pandas()
    # the schema expectation looks at the stored column list, not only what was read
    for name in column_names:
        if name not in frame.columns:
            frame[name] = None
    return frame[list(column_names)]


def _run_check(batch: Any, check: QualityCheck) -> QualityOutcome:
    gx = _gx()
    suite = gx.ExpectationSuite(name=check.name)
    for expect in check.expectations:
        suite.add_expectation(getattr(gx.expectations, expect.kind)(**expect.kwargs))
    validation = batch.validate(suite, result_format="SUMMARY")
    results = [_expectation_result(result) for result in validation.results]
    return QualityOutcome(check, all(r.success for r in results), results)


def _expectation_result(result: Any) -> ExpectationResult:
    config = result.expectation_config
    column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or [])
    details = result.result or {}
    examples = [
        _masked(column or "", _plain(value))
        for value in (details.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]
    ]
    if not result.success and not examples and "observed_value" in details:
        examples = [details["observed_value"]]  # e.g. the column list that did not match
    return ExpectationResult(
        expectation=f"{config.type}({column})" if column else config.type,
        success=bool(result.success),
        unexpected_count=int(details.get("unexpected_count") or 0),
        unexpected_percent=float(details.get("unexpected_percent") or 0.0),
        examples=examples,
    )


def _masked(column: str, value: Any) -> Any:
    if isinstance(value, dict):  # a compound example: mask each value by its own column
        return {key: _masked(key, _plain(item)) for key, item in value.items()}
    # an external id is pseudonymous but still names a person in the source system
    if column == "external_id" and value is not None:
        return f"{str(value)[:1]}***"
    return mask_value(column, value)


def _plain(value: Any) -> Any:
    """numpy scalars and NaN as plain Python values, for JSON metadata."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and value != value else value


def _batch(frame: pd.DataFrame) -> Any:
    return _dataframe_batch_definition().get_batch(batch_parameters={"dataframe": frame})


@cache
def _dataframe_batch_definition() -> Any:
    """One in-memory GX context per process: nothing is written to disk."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("contacts").add_dataframe_asset("validated")
    return asset.add_batch_definition_whole_dataframe("whole_table")


@cache
def _gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage reports from pipelines
    import great_expectations as gx

    return gx
