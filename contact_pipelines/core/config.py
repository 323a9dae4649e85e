"""The pipeline configuration (YAML), validated into typed objects.

``data/config/pipeline.yaml`` by default; ``--config`` or
``CONTACT_PIPELINES_CONFIG`` override it. Unknown keys are errors, so a typo
in a mapping is caught before a run rather than silently ignored.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contact_pipelines.core.fields import is_canonical

DEFAULT_CONFIG_PATH = Path("data/config/pipeline.yaml")
CONFIG_ENV_VAR = "CONTACT_PIPELINES_CONFIG"
_DOTDIGITAL_FIELD = re.compile(r"[A-Za-z0-9_-]{1,20}")


class ConfigError(ValueError):
    """The configuration file is missing or invalid; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    name: str
    match: str  # glob on the landed file's name
    default_region: str | None = None  # ISO-3166 alpha-2 for phones without a country code
    priority: int = 0  # higher wins survivorship ties
    columns: dict[str, str] = Field(default_factory=dict)  # source header -> canonical field
    encoding: str | None = None  # override detection, e.g. cp1251
    delimiter: str | None = None  # override sniffing for CSV/TXT
    sheet: str | None = None  # XLSX/XLS sheet name (default: first sheet with a header row)
    date_order: Literal["dmy", "mdy", "ymd"] | None = None  # for ambiguous 01/02/2020 dates

    @field_validator("columns")
    @classmethod
    def _canonical_targets(cls, columns: dict[str, str]) -> dict[str, str]:
        bad = sorted(target for target in columns.values() if not is_canonical(target))
        if bad:
            raise ValueError(
                f"unknown canonical field(s) {bad}: use a canonical field name "
                "or field:<name> for an additional field"
            )
        return columns

    def matches(self, file_name: str) -> bool:
        return fnmatch.fnmatch(file_name, self.match)


class RetenoConfig(_Strict):
    enabled: bool = True
    dedupe_on: Literal[
        "email", "sms", "push", "email_or_sms", "id", "externalCustomerId", "fieldId"
    ] = "externalCustomerId"
    field_id: int | None = None  # only with dedupe_on: fieldId
    fields: dict[str, int] = Field(default_factory=dict)  # additional field -> Reteno field id
    batch_size: int = Field(3000, ge=1, le=3000)
    max_in_flight: int = Field(4, ge=1)


class DotdigitalConfig(_Strict):
    enabled: bool = True
    match_identifier: Literal["email", "mobileNumber"] = "email"
    merge_option: Literal["overwrite", "overwriteIfNotEmpty", "overwriteIfEmpty"] = "overwrite"
    # canonical or additional field name -> Dotdigital data field name
    data_fields: dict[str, str] = Field(default_factory=dict)
    lists: dict[str, int] = Field(default_factory=dict)  # segment -> address book id
    clear_missing_fields: bool = False  # send null for fields that vanished at the source
    create_missing_fields: bool = False
    batch_size: int = Field(5000, ge=1)
    max_in_flight: int = Field(4, ge=1, le=25)

    @field_validator("data_fields")
    @classmethod
    def _dotdigital_names(cls, data_fields: dict[str, str]) -> dict[str, str]:
        bad = sorted(n for n in data_fields.values() if not _DOTDIGITAL_FIELD.fullmatch(n))
        if bad:
            raise ValueError(
                f"Dotdigital data field name(s) {bad} are invalid: at most 20 of A-Z a-z 0-9 _ -"
            )
        return data_fields


class PushtechConfig(_Strict):
    enabled: bool = True
    match_contact_user_id: bool = True
    lists: dict[str, str] = Field(default_factory=dict)  # segment -> list id
    # additional field -> Pushtech custom field name (default: the same name)
    custom_fields: dict[str, str] = Field(default_factory=dict)
    create_missing_fields: bool = False
    batch_size: int = Field(5000, ge=1, le=5000)
    max_in_flight: int = Field(4, ge=1)
    webhook_url: str | None = None  # public URL of the completion-webhook receiver, if any


class VendorsConfig(_Strict):
    reteno: RetenoConfig = Field(default_factory=RetenoConfig)
    dotdigital: DotdigitalConfig = Field(default_factory=DotdigitalConfig)
    pushtech: PushtechConfig = Field(default_factory=PushtechConfig)


class SegmentRuleConfig(_Strict):
    name: str
    rule: str  # see contact_pipelines.core.segments for the syntax


class IdentityConfig(_Strict):
    # an identifier linking more distinct people than this is treated as generic
    max_people_per_identifier: int = Field(20, ge=2)
    ignore_identifiers: list[str] = Field(default_factory=list)


class ScheduleConfig(_Strict):
    nightly_cron: str = "0 2 * * *"
    timezone: str = "UTC"


class PipelineConfig(_Strict):
    shards: int = Field(8, ge=1, le=4096)
    default_region: str | None = None
    sources: list[SourceConfig] = Field(default_factory=list)
    vendors: VendorsConfig = Field(default_factory=VendorsConfig)
    segments: list[SegmentRuleConfig] = Field(default_factory=list)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    dry_run_masked: bool = True  # --dry-run payload files with emails/phones masked

    def source_for(self, file_name: str) -> SourceConfig:
        """The first source whose glob matches, else a default source."""
        for source in self.sources:
            if source.matches(_strip_compression(file_name)) or source.matches(file_name):
                return source
        return SourceConfig(name="default", match="*", default_region=self.default_region)


def _strip_compression(file_name: str) -> str:
    for suffix in (".gz", ".zip"):
        if file_name.lower().endswith(suffix):
            return file_name[: -len(suffix)]
    return file_name


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def load_config(path: str | os.PathLike | None = None) -> PipelineConfig:
    """Load and validate the YAML config; raise ConfigError naming the file and the problem."""
    resolved = config_path(path)
    if not resolved.exists():
        if path is None and CONFIG_ENV_VAR not in os.environ:
            return PipelineConfig()  # no file at the default place: built-in defaults
        raise ConfigError(
            f"config file {resolved} does not exist: pass --config or set {CONFIG_ENV_VAR}"
        )
    try:
        data = yaml.safe_load(resolved.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {resolved} is not valid YAML: {exc}") from exc
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"config file {resolved} is invalid: {problems}") from exc
    _check_segment_rules(config, resolved)
    return config


def _check_segment_rules(config: PipelineConfig, path: Path) -> None:
    """Parse every segment rule now, so a typo stops the run before any data is read."""
    from contact_pipelines.core.segments import RuleError, parse_rules

    try:
        parse_rules(list(config.segments))
    except RuleError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
