import pyarrow as pa
import pytest

from contact_pipelines.core.config import ConfigError, load_config
from contact_pipelines.core.warehouse import Warehouse


def test_warehouse_round_trip_and_layout(tmp_path):
    warehouse = Warehouse(tmp_path)
    table = pa.table({"a": ["x", "y"], "b": [1, 2]})
    path = warehouse.write("contact_cards", "3", table)
    assert path == str(tmp_path / "contact_cards" / "3.parquet")
    assert warehouse.read("contact_cards", "3", columns=["a"]).column("a").to_pylist() == ["x", "y"]
    assert warehouse.partitions("contact_cards") == ["3"]
    assert warehouse.row_count("contact_cards", "3") == 2


def test_warehouse_failed_write_leaves_previous_partition(tmp_path):
    warehouse = Warehouse(tmp_path)
    warehouse.write("raw_contacts", "f.csv@1", pa.table({"a": ["old"]}))
    with (
        pytest.raises(RuntimeError),
        warehouse.writer("raw_contacts", "f.csv@1", pa.schema([("a", pa.string())])) as w,
    ):
        w.write_table(pa.table({"a": ["new"]}))
        raise RuntimeError("boom")
    assert warehouse.read("raw_contacts", "f.csv@1").column("a").to_pylist() == ["old"]
    assert warehouse.partitions("raw_contacts") == ["f.csv@1"]  # no temp file left visible


def test_read_many_with_no_partitions_gives_empty_table(tmp_path):
    schema = pa.schema([("reason", pa.string())])
    assert Warehouse(tmp_path).read_many("rejected_contacts", [], schema=schema).num_rows == 0


def test_config_rejects_unknown_field_naming_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("sources:\n  - name: x\n    match: '*.csv'\n    columns: {Mail: e_mail}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*e_mail"):
        load_config(path)


def test_config_rejects_typo_keys(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("shard: 4\n")
    with pytest.raises(ConfigError, match="shard"):
        load_config(path)


def test_bundled_config_matches_sources():
    config = load_config("data/config/pipeline.yaml")
    assert config.source_for("legacy_crm_2026-11.csv").name == "legacy_crm"
    assert config.source_for("legacy_crm_2026-11.csv.gz").name == "legacy_crm"
    unmatched = config.source_for("anything.xls")
    assert unmatched.name == "default" and unmatched.default_region == "UA"


def test_config_rejects_bad_segment_rule_before_any_run(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text('segments:\n  - name: Broken\n    rule: "country == "\n')
    with pytest.raises(ConfigError, match=r"rules.yaml.*Broken"):
        load_config(path)


def test_config_rejects_impossible_dotdigital_field_name(tmp_path):
    path = tmp_path / "dd.yaml"
    path.write_text(
        "vendors:\n  dotdigital:\n    data_fields: {plan_type: 'PLAN TYPE WITH SPACES'}\n"
    )
    with pytest.raises(ConfigError, match="PLAN TYPE WITH SPACES"):
        load_config(path)


def test_arrow_partitions_round_trip_and_appear_only_on_success(tmp_path):
    warehouse = Warehouse(tmp_path)
    schema = pa.schema([("contact_key", pa.string()), ("shard", pa.int32())])
    with warehouse.arrow_writer("shard_rows", "2", schema) as writer:
        writer.write_table(pa.table({"contact_key": ["a", "b"], "shard": [2, 2]}, schema=schema))
        writer.write_table(pa.table({"contact_key": ["c"], "shard": [2]}, schema=schema))
    assert (tmp_path / "shard_rows" / "2.arrow").is_file()
    assert warehouse.read_arrow("shard_rows", "2").column("contact_key").to_pylist() == [
        "a",
        "b",
        "c",
    ]
    assert warehouse.partitions("shard_rows", ".arrow") == ["2"]
    assert warehouse.partitions("shard_rows") == []  # Parquet partitions only

    with pytest.raises(RuntimeError), warehouse.arrow_writer("shard_rows", "2", schema) as w:
        w.write_table(pa.table({"contact_key": ["new"], "shard": [2]}, schema=schema))
        raise RuntimeError("boom")
    assert warehouse.read_arrow("shard_rows", "2").num_rows == 3  # the old file stays
    assert sorted(p.name for p in (tmp_path / "shard_rows").iterdir()) == ["2.arrow"]
    warehouse.delete("shard_rows", "2", ".arrow")
    assert not warehouse.exists("shard_rows", "2", ".arrow")
