"""Unreadable files raise ExportReadError naming the file, the line and the fix; wrappers work."""

from __future__ import annotations

import gzip
import zipfile

import openpyxl
import pytest

from contact_pipelines.core.readers import ExportReadError, read_export


def write(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def xlsx_bytes(tmp_path) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active.append(["Email", "Phone"])
    workbook.active.append(["a@example.com", 447712345678])
    path = tmp_path / "source.xlsx"
    workbook.save(path)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "no header row"),
        ("header_only.csv", b"Email,Phone\r\n\r\n", "has a header but no data rows"),
        ("garbage.csv", bytes(range(7, 256)) + bytes(range(256)), "binary data"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, "binary data"),
        ("fake.xlsx", b"Email,Phone\na@example.com,1\n", "not an Excel workbook"),
        ("bad.json", b'{"contacts": [{"email": "a@example.com",}]}', "JSON is invalid"),
        ("empty.json", b"[]", "no contact records"),
        ("scalar.json", b'"just text"', "not contact records"),
    ],
)
def test_unreadable_files(tmp_path, name, content, problem):
    path = write(tmp_path, name, content)
    with pytest.raises(ExportReadError) as caught:
        read_export(path)
    message = str(caught.value)
    assert message.startswith(name)
    assert problem in message
    assert "Fix:" in message


def test_header_only_names_the_header_line(tmp_path):
    with pytest.raises(ExportReadError) as caught:
        read_export(write(tmp_path, "h.csv", b"\nEmail,Phone\n"))
    assert caught.value.line == 2 and "h.csv, line 2" in str(caught.value)


def test_truncated_xlsx(tmp_path):
    content = xlsx_bytes(tmp_path)
    path = write(tmp_path, "truncated.xlsx", content[: len(content) // 2])
    with pytest.raises(ExportReadError, match=r"^truncated\.xlsx: .*(truncated|damaged).*Fix: "):
        read_export(path)


def test_header_only_xlsx(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Email", "Phone"])
    workbook.save(tmp_path / "h.xlsx")
    with pytest.raises(ExportReadError, match="has a header but no data rows"):
        read_export(tmp_path / "h.xlsx")


def test_bad_jsonl_line_is_named(tmp_path):
    path = write(tmp_path, "t.jsonl", b'{"a": 1}\n{"a": 2\n')
    with pytest.raises(ExportReadError, match=r"^t\.jsonl, line 2: "):
        read_export(path)


def test_bad_byte_deep_in_utf8_file_names_its_line(tmp_path):
    body = "".join(f"u{i}@example.com,Name\n" for i in range(60_000))  # > the detection sample
    content = ("Email,Name\n" + body).encode() + b"bad@example.com,\xff\xfe\n"
    export = read_export(write(tmp_path, "late.csv", content))
    assert export.info.encoding == "utf-8"
    with pytest.raises(
        ExportReadError, match=r"late\.csv, line 60002: .*utf-8.*Fix: set `encoding:`"
    ):
        list(export.chunks())


def test_missing_file(tmp_path):
    with pytest.raises(ExportReadError, match="does not exist"):
        read_export(tmp_path / "nope.csv")


def test_gzip_csv_and_gzip_xlsx(tmp_path):
    csv_path = write(
        tmp_path, "crm.csv.gz", gzip.compress("Email;Имя\na@example.com;Олена\n".encode("cp1251"))
    )
    export = read_export(csv_path)
    assert (export.info.format, export.info.encoding, export.info.delimiter) == (
        "gzip+csv",
        "cp1251",
        ";",
    )
    assert export.read_all().to_pylist()[0]["Имя"] == "Олена"
    xlsx_path = write(tmp_path, "sheet.xlsx.gz", gzip.compress(xlsx_bytes(tmp_path)))
    row = read_export(xlsx_path).read_all().to_pylist()[0]
    assert row["Phone"] == "447712345678" and row["source_file"] == "sheet.xlsx.gz"


def test_zip_with_one_member_and_with_two(tmp_path):
    one = tmp_path / "export.zip"
    with zipfile.ZipFile(one, "w") as archive:
        archive.writestr("contacts.json", '[{"email": "a@example.com"}]')
    export = read_export(one)
    assert export.info.format == "zip+json"
    assert export.read_all().column("email").to_pylist() == ["a@example.com"]
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "Email\na@example.com\n")
        archive.writestr("b.csv", "Email\nb@example.com\n")
    with pytest.raises(ExportReadError, match="holds 2 files"):
        read_export(two)


def test_misnamed_text_xls_is_read_as_text(tmp_path):
    path = write(tmp_path, "crm_export.xls", b"Email\tName\na@example.com\tA\n")
    export = read_export(path)
    assert (export.info.format, export.info.delimiter) == ("csv", "\t")
    assert export.read_all().num_rows == 1


def test_reading_never_changes_the_file(tmp_path):
    path = write(tmp_path, "keep.csv", b"Email\na@example.com\n")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    read_export(path).read_all()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
