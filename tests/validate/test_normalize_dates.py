import datetime as dt

import pytest

from contact_pipelines.core.normalize.dates import normalize_dates

TODAY = dt.date(2026, 1, 15)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-01-02", "1990-01-02"),
        ("1990/1/2", "1990-01-02"),
        ("02.01.1990", "1990-01-02"),
        ("2.1.1990", "1990-01-02"),
        ("1990-01-02 10:11", "1990-01-02"),
        ("1990-01-02T00:30:00+02:00", "1990-01-02"),  # a birth date keeps its calendar day
        ("32875", "1990-01-02"),  # Excel serial
        ("631238400", "1990-01-02"),  # unix seconds
        ("631238400000", "1990-01-02"),  # unix milliseconds
        ("29.02.2000", "2000-02-29"),
        ("31.02.1990", None),  # impossible
        ("29.02.1900", None),  # 1900 was not a leap year
        ("31.04.1990", None),
        ("1990-13-01", None),
        ("2030-01-01", None),  # in the future
        ("1850-01-01", None),
        ("yesterday", None),
    ],
)
def test_birth_dates(raw, expected):
    result = normalize_dates([raw], "date", today=TODAY)
    assert result.values.to_pylist() == [expected]
    assert result.warnings.to_pylist() == [None if expected else "invalid_birth_date"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-05T10:11:12Z", "2024-03-05T10:11:12Z"),
        ("2024-03-05T10:11:12.345Z", "2024-03-05T10:11:12Z"),
        ("2024-03-05T10:11:12+02:00", "2024-03-05T08:11:12Z"),
        ("2024-03-05 10:11", "2024-03-05T10:11:00Z"),
        ("05.03.2024 10:11:12", "2024-03-05T10:11:12Z"),
        ("45356.5", "2024-03-05T12:00:00Z"),  # Excel serial with a time of day
        ("1709633472", "2024-03-05T10:11:12Z"),
        ("2024-03-05 25:00", None),
    ],
)
def test_timestamps(raw, expected):
    result = normalize_dates([raw], "timestamp", field="updated_at")
    assert result.values.to_pylist() == [expected]
    assert result.warnings.to_pylist() == [None if expected else "invalid_updated_at"]


def test_ambiguous_slashes_default_to_day_first():
    assert normalize_dates(["01/02/1990"], today=TODAY).values.to_pylist() == ["1990-02-01"]


def test_column_with_month_first_evidence_is_read_month_first():
    result = normalize_dates(["01/02/1990", "12/25/1990"], today=TODAY)
    assert result.values.to_pylist() == ["1990-01-02", "1990-12-25"]


def test_column_with_day_first_evidence_is_read_day_first():
    result = normalize_dates(["01/02/1990", "25/12/1990"], today=TODAY)
    assert result.values.to_pylist() == ["1990-02-01", "1990-12-25"]


def test_configured_order_wins():
    result = normalize_dates(["01/02/1990"], date_order="mdy", today=TODAY)
    assert result.values.to_pylist() == ["1990-01-02"]


def test_many_values_mixed_shapes():
    raw = ["02.01.1990", "1990-01-02", None, "bad", "32875"] * 2000
    result = normalize_dates(raw, today=TODAY)
    assert result.values.to_pylist().count("1990-01-02") == 6000
    assert result.warnings.to_pylist().count("invalid_birth_date") == 2000


def test_a_bare_year_is_not_read_as_an_excel_serial():
    import pyarrow as pa

    from contact_pipelines.core.normalize.dates import normalize_dates

    result = normalize_dates(pa.array(["1990", "2024", "32874"]), kind="date")
    assert result.values.to_pylist() == [None, None, "1990-01-01"]
