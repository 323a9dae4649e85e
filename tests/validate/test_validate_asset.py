"""validated_contacts through Dagster: quality checks reported, masked, with severities."""

from pathlib import Path

import dagster as dg

from contact_pipelines.core import stages
from contact_pipelines.core.config import PipelineConfig
from contact_pipelines.core.landing import partition_key
from contact_pipelines.core.quality import validated_suite
from contact_pipelines.defs.resources import PipelineResource
from contact_pipelines.defs.validate.assets import validated_and_rejected_contacts

CSV = (
    "Client ID,E-mail,Phone,Gender\n"
    "C-1,Ivan.Petrenko@Gmail.com,067 123 45 67,m\n"
    "C-1,olena@example.com,+44 7712 345678,ж\n"
    "C-2,,,\n"
    ",nobody@@x,12,\n"
)


def _materialize(tmp_path: Path, text: str):
    file_name = "crm_export.csv"
    (tmp_path / file_name).write_text(text, encoding="utf-8")
    key = partition_key(file_name, "abc123")
    pipeline = PipelineResource(warehouse_dir=str(tmp_path / "wh"), landing_dir=str(tmp_path))
    stages.ingest_file(tmp_path / file_name, key, PipelineConfig(), pipeline.warehouse())
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("landed_files", [key])
        result = dg.materialize(
            [validated_and_rejected_contacts],
            partition_key=key,
            resources={"pipeline": pipeline},
            instance=instance,
            raise_on_error=False,  # a blocking ERROR fails the step: the point of blocking
        )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}, result.success


def test_quality_checks_run_with_severities_and_masked_examples(tmp_path):
    checks, succeeded = _materialize(tmp_path, CSV)
    assert succeeded  # warnings do not block
    expected = {"row_accounting", "reject_rate", *(c.name for c in validated_suite())}
    assert set(checks) == expected
    assert checks["row_accounting"].passed
    for name in ("schema", "email_format", "phone_e164", "iso_dates", "allowed_codes"):
        assert checks[name].passed, name
    ids = checks["unique_external_ids"]
    assert not ids.passed and ids.severity == dg.AssetCheckSeverity.WARN
    failed = ids.metadata["failed_expectations"].value
    assert failed[0]["examples_masked"] == ["C***", "C***"]
    # one of four rows rejected: above the 5% warning line, below the 50% blocking line
    rate = checks["reject_rate"]
    assert not rate.passed and rate.severity == dg.AssetCheckSeverity.WARN
    assert "C-1" not in str(ids.metadata) and "Petrenko" not in str(ids.metadata)


def test_mostly_rejected_file_fails_reject_rate_with_error(tmp_path):
    checks, succeeded = _materialize(tmp_path, "E-mail,Phone\nbad@@x,1\nworse,2\nok@example.com,\n")
    rate = checks["reject_rate"]
    assert not rate.passed and rate.severity == dg.AssetCheckSeverity.ERROR
    assert not succeeded  # blocking: downstream steps of this run would not start
