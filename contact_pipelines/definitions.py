"""The code location: every definition under defs/, plus the resources chosen from the environment."""

from pathlib import Path

import dagster as dg

from contact_pipelines.defs.resources import all_resources


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(resources=all_resources()),
    )
