"""Partitions: one per landed export file (added by the landing sensor) and one per shard."""

from __future__ import annotations

import dagster as dg

from contact_pipelines.core.config import load_config

landed_files = dg.DynamicPartitionsDefinition(name="landed_files")

# The shard count is part of the code location: changing `shards` in the config
# re-shards the base on the next identity run.
SHARD_COUNT = load_config().shards
shards = dg.StaticPartitionsDefinition([str(i) for i in range(SHARD_COUNT)])
