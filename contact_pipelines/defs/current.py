"""Which validated partitions make up the base today: the newest content of every landed file."""

from __future__ import annotations

import dagster as dg

from contact_pipelines.core import stages
from contact_pipelines.core.warehouse import Warehouse
from contact_pipelines.defs.partitions import landed_files


def current_validated_partitions(instance: dg.DagsterInstance, warehouse: Warehouse) -> list[str]:
    """Newest partition per file name that has been validated and passed its blocking checks.

    A re-landed file supersedes the old; a quarantined one (a check failed with ERROR)
    is left out, so its data reaches no vendor.
    """
    added_in_order = instance.get_dynamic_partitions(landed_files.name)
    return stages.current_file_partitions(added_in_order, warehouse)
