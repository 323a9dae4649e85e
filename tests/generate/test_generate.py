"""The generator: files the readers accept, a truth that matches what validation and identity do."""

from __future__ import annotations

import argparse
from pathlib import Path

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from contact_pipelines import generate as gen
from contact_pipelines.core.config import IdentityConfig, load_config
from contact_pipelines.core.identity import resolve_identities
from contact_pipelines.core.mapping import resolve_columns
from contact_pipelines.core.readers import read_export
from contact_pipelines.core.stages import ID_COLUMNS
from contact_pipelines.core.validate import validate_chunk

ROWS = 3000


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> gen.GeneratedBase:
    return gen.generate(ROWS, tmp_path_factory.mktemp("base"), seed=7)


def read_all(path: Path) -> pa.Table:
    return pa.concat_tables(read_export(path).chunks())


def validate_base(base: gen.GeneratedBase) -> tuple[pa.Table, pa.Table]:
    """Every file through the readers and validation with the written pipeline.yaml."""
    config = load_config(base.config)
    valid, rejected = [], []
    for path in base.files:
        source = config.source_for(path.name)
        export = read_export(path)
        mapping = resolve_columns(export.info.headers, source)
        assert mapping.conflicts == []
        for chunk in export.chunks():
            result = validate_chunk(chunk, mapping, source)
            valid.append(result.valid)
            rejected.append(result.rejected)
    return pa.concat_tables(valid), pa.concat_tables(rejected)


def test_every_file_reads_back_with_the_truths_rows(base):
    truth = pq.read_table(base.truth)
    assert truth.num_rows == base.rows == ROWS
    assert {p.suffix for p in base.files} == {".csv", ".txt", ".xlsx", ".json"}
    for path in base.files:
        raw = read_all(path)
        expected = truth.filter(pc.equal(truth.column("source_file"), path.name))
        assert raw.num_rows == expected.num_rows > 0, path.name
        assert raw.column("source_row").to_pylist() == expected.column("source_row").to_pylist()
        assert raw.column("row_defect").null_count == raw.num_rows


def test_formats_look_like_real_exports(base):
    by_suffix = {p.suffix: p for p in base.files}
    assert read_export(by_suffix[".txt"]).info.encoding == "cp1251"
    assert read_export(by_suffix[".txt"]).info.delimiter == ";"
    assert read_export(by_suffix[".csv"]).info.delimiter == ","
    json_headers = read_export(by_suffix[".json"]).info.headers
    assert {"channels.mobilepush", "channels.mobilepush.device.os", "externalCustomerId"} <= set(
        json_headers
    )


def test_truth_accounts_for_duplicates_and_invalid_rows(base):
    truth = pq.read_table(base.truth)
    rejected = truth.filter(pc.equal(truth.column("expected"), "rejected"))
    assert rejected.num_rows == base.rejected_rows == round(ROWS * 0.03)
    assert rejected.column("person_id").null_count == rejected.num_rows
    assert set(rejected.column("reason").to_pylist()) == set(gen.INVALID_REASONS)
    assert base.people == ROWS - base.rejected_rows - round(ROWS * 0.08)
    valid = truth.filter(pc.equal(truth.column("expected"), "valid"))
    assert len(pc.unique(valid.column("person_id"))) == base.people
    assert (
        truth.select(["source_file", "source_row"])
        .group_by(["source_file", "source_row"])
        .aggregate([])
        .num_rows
        == ROWS
    )  # (file, row) is a key


def test_validation_and_identity_agree_with_the_truth(base):
    valid, rejected = validate_base(base)
    truth = pq.read_table(base.truth).rename_columns({"reason": "expected_reason"})
    assert valid.num_rows + rejected.num_rows == ROWS
    joined = rejected.select(["source_file", "source_row", "reason"]).join(
        truth, ["source_file", "source_row"]
    )
    assert joined.num_rows == base.rejected_rows
    assert joined.column("reason").to_pylist() == joined.column("expected_reason").to_pylist()
    assert not any(valid.column("warnings").to_pylist())  # no value dropped from a valid row

    identity = resolve_identities(valid.select(ID_COLUMNS), 8, IdentityConfig())
    score = gen.score_identity(pq.read_table(base.truth), identity.table)
    assert score.true_pairs > 0
    assert score.precision >= 0.99 and score.recall >= 0.99, score


def test_duplicates_vary_like_real_exports(base):
    valid, _ = validate_base(base)
    raw_emails = pa.concat_arrays(
        [
            read_all(p).column(name).combine_chunks()
            for p, name in zip(base.files[:2], ("E-mail", "Email"), strict=True)
        ]
    ).drop_null()
    assert pc.any(pc.not_equal(raw_emails, pc.utf8_lower(raw_emails))).as_py()  # case varies
    assert pc.any(pc.starts_with(raw_emails, " ")).as_py()  # so does spacing
    raw_phones = read_all(base.files[0]).column("Phone").drop_null()
    assert pc.any(pc.starts_with(raw_phones, "0")).as_py()  # national form
    assert pc.any(pc.starts_with(raw_phones, "+380")).as_py()  # international form
    phones = valid.column("phone").drop_null().to_pylist()
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones[:500])


def test_score_identity_counts_wrong_merges_and_splits():
    truth = pa.table(
        {
            "source_file": ["f"] * 4,
            "source_row": [1, 2, 3, 4],
            "person_id": pa.array([1, 1, 2, None], pa.int64()),
        }
    )
    identity = pa.table(
        {"source_file": ["f"] * 4, "source_row": [1, 2, 3, 4], "contact_key": ["a", "b", "b", "c"]}
    )
    score = gen.score_identity(truth, identity)
    assert (score.true_pairs, score.predicted_pairs, score.matched_pairs) == (1, 1, 0)
    assert score.precision == 0 and score.recall == 0


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    first = gen.generate(500, tmp_path / "a", seed=5)
    again = gen.generate(500, tmp_path / "b", seed=5)
    other = gen.generate(500, tmp_path / "c", seed=6)
    for one, two, three in zip(first.files, again.files, other.files, strict=True):
        if one.suffix != ".xlsx":  # the zip container stamps the time
            assert one.read_bytes() == two.read_bytes(), one.name
            assert one.read_bytes() != three.read_bytes(), one.name
    assert pq.read_table(first.truth).equals(pq.read_table(again.truth))


def test_big_xlsx_and_json_are_capped(tmp_path, monkeypatch):
    monkeypatch.setitem(gen.ROW_CAPS, "xlsx", 100)
    monkeypatch.setitem(gen.ROW_CAPS, "json", 150)
    base = gen.generate(2000, tmp_path, files=4)
    sizes = {p.suffix: read_all(p).num_rows for p in base.files}
    assert sizes[".xlsx"] == 100 and sizes[".json"] == 150
    assert sizes[".csv"] + sizes[".txt"] == 1750


def test_files_and_formats_options(tmp_path):
    base = gen.generate(600, tmp_path, files=3, formats=("csv", "txt"))
    assert [p.name for p in base.files] == ["crm_01.csv", "shop_02.txt", "crm_03.csv"]
    encodings = [read_export(p).info.encoding for p in base.files]
    assert encodings[1] == "cp1251"
    assert load_config(base.config).source_for("crm_03.csv").name == "crm"
    with pytest.raises(ValueError, match="--formats"):
        gen.generate(600, tmp_path, formats=("pdf",))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="contact-pipelines")
    gen.add_arguments(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_command_line_writes_a_base_and_its_next_night(tmp_path, capsys):
    night1, night2 = tmp_path / "n1", tmp_path / "n2"
    args = parse(["generate", "--rows", "400", "--out", str(night1), "--formats", "csv,json"])
    assert args.handler(args) == 0
    assert (night1 / "truth.parquet").exists() and (night1 / "pipeline.yaml").exists()
    assert "400 rows" in capsys.readouterr().out
    args = parse(["generate", "--changes", "0.1", "--from", str(night1), "--out", str(night2)])
    assert args.handler(args) == 0
    assert "changed" in capsys.readouterr().out

    args = parse(["generate", "--out", str(tmp_path / "x")])
    assert args.handler(args) == 2
    args = parse(["generate", "--changes", "0.1", "--out", str(tmp_path / "x")])
    assert args.handler(args) == 2
    assert "--from" in capsys.readouterr().err
