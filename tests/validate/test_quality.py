"""Data-quality suites (Great Expectations 1.x) on validated contacts."""

import json

import pyarrow as pa
import pyarrow.compute as pc

from contact_pipelines.core.config import SourceConfig
from contact_pipelines.core.fields import REJECTED_SCHEMA
from contact_pipelines.core.mapping import resolve_columns
from contact_pipelines.core.quality import columns_needed, run_suite, validated_suite
from contact_pipelines.core.validate import validate_chunk

SOURCE = SourceConfig(name="crm", match="*", default_region="UA", columns={"ID": "external_id"})
REJECT_CODES = {"no_identifier", "invalid_email", "invalid_phone", "row_defect"}


def _validate(rows: list[dict], defects=None):
    headers = list(rows[0])
    data = {h: pa.array([r.get(h) for r in rows], pa.string()) for h in headers}
    data["source_file"] = pa.array(["crm.csv"] * len(rows))
    data["source_row"] = pa.array(range(2, len(rows) + 2), pa.int64())
    data["row_defect"] = pa.array(defects or [None] * len(rows), pa.string())
    chunk = pa.table(data)
    return validate_chunk(chunk, resolve_columns(headers, SOURCE), SOURCE)


ROWS = [
    {"ID": "C1", "Email": " Ivan@Gmail.com ", "Phone": "067 123 45 67", "Birth date": "02.03.1990",
     "Gender": "чол", "Language": "українська", "Country": "Україна", "Email status": "так"},
    {"ID": "C2", "Email": "olena@пример.укр", "Phone": "+44 7712 345678", "Birth date": "31.02.1990",
     "Gender": "F", "Language": "en-GB", "Country": "UK", "Email status": "unsubscribed"},
    {"ID": None, "Email": "bad@@x", "Phone": "12", "Birth date": None, "Gender": None,
     "Language": None, "Country": None, "Email status": None},
]  # fmt: skip


def _outcomes(table, **kwargs):
    return {o.check.name: o for o in run_suite(table, validated_suite(), **kwargs)}


def test_validated_output_meets_every_expectation():
    result = _validate(ROWS)
    outcomes = _outcomes(result.valid)
    assert {name: o.passed for name, o in outcomes.items()} == dict.fromkeys(outcomes, True)
    assert set(outcomes) >= {"schema", "email_format", "phone_e164", "iso_dates",
                             "allowed_codes", "unique_rows", "unique_external_ids"}  # fmt: skip


def test_bad_values_fail_with_error_severity_and_masked_examples():
    valid = _validate(ROWS).valid
    broken = valid.set_column(
        valid.schema.get_field_index("email"), "email",
        pa.array(["Ivan.Petrenko@Gmail.com", "olena@example.com"]),
    ).set_column(
        valid.schema.get_field_index("phone"), "phone", pa.array(["0671234567", None])
    ).set_column(
        valid.schema.get_field_index("gender"), "gender", pa.array(["m", "female"])
    )  # fmt: skip
    outcomes = _outcomes(broken)
    for name in ("email_format", "phone_e164", "allowed_codes"):
        assert not outcomes[name].passed and outcomes[name].check.severity == "ERROR", name
    [email] = [r for r in outcomes["email_format"].results if not r.success]
    assert email.unexpected_count == 1
    assert email.examples == ["I***@G***.com"]  # masked: never the address itself
    assert "Petrenko" not in outcomes["email_format"].summary
    [phone] = [r for r in outcomes["phone_e164"].results if not r.success]
    assert phone.examples == ["067***4567"]
    assert outcomes["iso_dates"].passed


def test_repeated_external_id_is_a_warning_and_repeated_row_an_error():
    valid = _validate(ROWS).valid
    doubled = pa.concat_tables([valid, valid.slice(0, 1)])
    outcomes = _outcomes(doubled)
    assert not outcomes["unique_external_ids"].passed
    assert outcomes["unique_external_ids"].check.severity == "WARN"
    assert not outcomes["unique_rows"].passed
    assert outcomes["unique_rows"].check.severity == "ERROR"
    [ids] = outcomes["unique_external_ids"].results
    assert ids.examples == ["C***", "C***"]
    [row] = outcomes["unique_rows"].results
    assert row.examples[0]["source_row"] == 2
    assert row.examples[0]["email"] == "i***@g***.com"


def test_one_record_with_two_devices_is_not_a_repeat():
    valid = _validate(ROWS).valid
    first = valid.slice(0, 1)
    token = first.schema.get_field_index("push_token")
    two_devices = pa.concat_tables(
        [first.set_column(token, "push_token", pa.array([t])) for t in ("tok-a", "tok-b")]
    )
    assert _outcomes(two_devices)["unique_rows"].passed


def test_schema_drift_fails():
    valid = _validate(ROWS).valid
    outcomes = _outcomes(valid.drop_columns(["warnings"]))
    assert not outcomes["schema"].passed
    needed = valid.select(columns_needed(validated_suite()))
    assert "warnings" not in needed.column_names
    outcomes = _outcomes(needed, column_names=valid.column_names)
    assert outcomes["schema"].passed  # the stored column list is what counts


def test_every_reject_has_code_message_with_line_and_fix_and_original_values():
    rows = [*ROWS, {"ID": None, "Email": None, "Phone": "+380 67", "Birth date": "1990-01-01"},
            {"ID": None, "Email": None, "Phone": None, "Birth date": None}]  # fmt: skip
    result = _validate(rows, defects=[None, None, None, None, "too_many_columns"])
    rejected = result.rejected
    assert rejected.schema.equals(REJECTED_SCHEMA, check_metadata=False)
    assert result.valid.num_rows + rejected.num_rows == len(rows)
    assert set(rejected["reason"].to_pylist()) <= REJECT_CODES
    assert rejected["reason"].to_pylist() == ["invalid_email", "invalid_phone", "row_defect"]
    for row, message, original in zip(
        rejected["source_row"].to_pylist(),
        rejected["message"].to_pylist(),
        rejected["original"].to_pylist(),
        strict=True,
    ):
        assert message.startswith(f"crm.csv line {row}: ")
        assert any(fix in message for fix in ("correct", "write it", "add", "check")), message
        assert set(json.loads(original)) == set(rows[0])  # every source header, as it was
    assert json.loads(rejected["original"][0].as_py())["Email"] == "bad@@x"
    assert pc.all(pc.is_valid(rejected["message"])).as_py()
