import dagster as dg

from contact_pipelines.core.config import load_config
from contact_pipelines.defs.orchestration.jobs import identity_job

_schedule = load_config().schedule

nightly_crm_sync = dg.ScheduleDefinition(
    name="nightly_crm_sync",
    job=identity_job,
    cron_schedule=_schedule.nightly_cron,
    execution_timezone=_schedule.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly CRM sync: identity at 02:00 (configurable), then every shard's cards, "
    "segments and vendor syncs, sending only what changed.",
)
