"""Every bundled sample export reads with the right format, encoding, delimiter, headers and rows."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from contact_pipelines.core.fields import RAW_META_COLUMNS
from contact_pipelines.core.readers import read_export

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"

EXPECTED = {
    "legacy_crm_2026-11.csv": dict(
        format="csv",
        encoding="utf-8-sig",
        delimiter=",",
        rows=25,
        headers=("Client ID", "E-mail", "First Name", "Last Name", "Phone", "Birthday", "Gender", "Country", "City", "Plan", "Groups", "Updated"),
    ),
    "shop_customers_2026-11.txt": dict(
        format="csv",
        encoding="cp1251",
        delimiter=";",
        rows=15,
        headers=("Email", "Телефон", "Имя", "Фамилия", "Город", "Подписка", "Дата изменения"),
    ),
    "event_signups_2026-11.xlsx": dict(
        format="xlsx",
        encoding=None,
        delimiter=None,
        rows=12,
        headers=("Email Address", "Mobile Phone", "First name", "Last name", "Language", "Marketing consent", "Signed up", "Country"),
    ),
    "old_newsletter.xls": dict(
        format="xls", encoding=None, delimiter=None, rows=10, headers=("Email", "First Name", "Last Name", "Subscribed", "Country")
    ),
    "mobile_tokens_2026-11.json": dict(
        format="json",
        encoding="utf-8",
        delimiter=None,
        rows=9,
        headers=(
            "firstName",
            "lastName",
            "channels.mobilepush",
            "channels.mobilepush.device.appId",
            "channels.mobilepush.device.deviceModel",
            "channels.mobilepush.device.os",
            "channels.mobilepush.device.locale",
            "channels.mobilepush.device.appVersion",
            "channels.email",
            "externalCustomerId",
        ),
    ),
}  # fmt: skip


def by_row(table: pa.Table) -> dict[int, dict]:
    return {row["source_row"]: row for row in table.to_pylist()}


@pytest.mark.parametrize("file_name", sorted(EXPECTED))
def test_sample_reads_with_expected_info_and_rows(file_name):
    expected = EXPECTED[file_name]
    export = read_export(SAMPLES / file_name)
    table = export.read_all()
    assert export.info.format == expected["format"]
    assert export.info.encoding == expected["encoding"]
    assert export.info.delimiter == expected["delimiter"]
    assert export.info.headers == expected["headers"]
    assert table.num_rows == expected["rows"]
    assert table.column_names == [*expected["headers"], *RAW_META_COLUMNS]
    assert all(field.type == pa.string() for field in table.schema if field.name != "source_row")
    assert table.schema.field("source_row").type == pa.int64()
    assert set(table.column("source_file").to_pylist()) == {file_name}
    assert table.column("row_defect").null_count == table.num_rows


def test_legacy_crm_values_lines_and_nulls():
    rows = by_row(read_export(SAMPLES / "legacy_crm_2026-11.csv").read_all())
    assert sorted(rows) == list(range(2, 27))  # header is line 1
    assert rows[2]["Client ID"] == "C-10001"  # the BOM is not glued to the first header
    assert rows[4]["City"] == "Kharkiv, Saltivka"
    assert rows[5]["E-mail"] == "  Taras.Melnyk@Gmail.COM "  # readers keep values as written
    assert rows[3]["First Name"] == "Андрій"
    assert rows[24]["Client ID"] is None and rows[24]["E-mail"] is None  # empty -> null


def test_shop_customers_cyrillic_from_cp1251():
    rows = by_row(read_export(SAMPLES / "shop_customers_2026-11.txt").read_all())
    assert rows[2]["Имя"] == "Олена"
    assert rows[16]["Фамилия"] == "Заїка"
    assert rows[6]["Подписка"] == "отписан"


def test_event_signups_numbers_and_dates_as_shown():
    rows = by_row(read_export(SAMPLES / "event_signups_2026-11.xlsx").read_all())
    assert rows[2]["Mobile Phone"] == "380671234567"
    assert rows[3]["Mobile Phone"] == "447911123456"
    assert rows[2]["Signed up"] == "2026-11-03T18:00:00"
    assert rows[12]["Signed up"] == "2026-11-04"
    assert rows[9]["Mobile Phone"] is None


def test_old_newsletter_numeric_flags_are_digits():
    rows = by_row(read_export(SAMPLES / "old_newsletter.xls").read_all())
    assert [rows[n]["Subscribed"] for n in (2, 3, 4)] == ["1", "0", "unsubscribed"]


def test_mobile_tokens_one_row_per_device():
    table = read_export(SAMPLES / "mobile_tokens_2026-11.json").read_all()
    two_devices = [row for row in table.to_pylist() if row["externalCustomerId"] == "C-10002"]
    assert [row["channels.mobilepush.device.deviceModel"] for row in two_devices] == [
        "Pixel 7",
        "iPad Air",
    ]
    assert {row["source_row"] for row in two_devices} == {2}
    assert len(set(table.column("channels.mobilepush").to_pylist())) == 9


def test_sample_script_is_deterministic(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_samples", SAMPLES.parents[1] / "scripts" / "make_samples.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path)])
    for generated in sorted(tmp_path.iterdir()):
        assert generated.read_bytes() == (SAMPLES / generated.name).read_bytes(), generated.name
