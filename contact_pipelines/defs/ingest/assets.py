import dagster as dg

from contact_pipelines.core import stages
from contact_pipelines.defs.metadata import counts, masked_preview, seconds
from contact_pipelines.defs.partitions import landed_files
from contact_pipelines.defs.resources import PipelineResource


@dg.asset(
    partitions_def=landed_files,
    group_name="ingest",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    pool="ingest",
)
def raw_contacts(
    context: dg.AssetExecutionContext, pipeline: PipelineResource
) -> dg.MaterializeResult:
    """Every record of one landed export file as strings, with its source file, line and any row defect.

    Reads CSV, TXT, XLS, XLSX and JSON in bounded chunks, detecting encoding and
    delimiter. The partition key is the file name plus a hash of its content, so a
    corrected file landed under the same name becomes a new partition.
    """
    landed = stages.locate_landed_file(
        pipeline.landing(), context.partition_key, pipeline.state_dir() / "landing_hashes.json"
    )
    stats = stages.ingest_file(
        landed.path, context.partition_key, pipeline.load_config(), pipeline.warehouse()
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats.rows,
            "file": landed.name,
            "format": stats.format,
            "encoding": str(stats.encoding),
            "delimiter": repr(stats.delimiter) if stats.delimiter else "n/a",
            "headers": dg.MetadataValue.json(stats.headers),
            "unmapped_headers": dg.MetadataValue.json(stats.unmapped_headers),
            "row_defects": counts(stats.row_defects),
            "chunks": stats.chunks,
            "seconds": seconds(stats.seconds),
            "preview": masked_preview(stats.preview),
        }
    )
