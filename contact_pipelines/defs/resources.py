"""Resources: where the pipeline reads and writes, and each vendor's endpoint and secrets.

Paths come from environment variables with local defaults; vendor endpoints and
secrets come from the environment through ``dg.EnvVar`` (never stored in config,
never shown in the UI). A vendor variable that is not set is left empty here and
reported by the vendor's sync, by name, before any call is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import dagster as dg

from contact_pipelines.core.config import PipelineConfig, load_config
from contact_pipelines.core.warehouse import Warehouse

LANDING_ENV, WAREHOUSE_ENV, LEDGER_ENV = (
    "CONTACT_PIPELINES_LANDING",
    "CONTACT_PIPELINES_WAREHOUSE",
    "CONTACT_PIPELINES_LEDGER_URL",
)


class PipelineResource(dg.ConfigurableResource):
    """The configuration file, the landing folder, the warehouse and the delivery ledger."""

    config_path: str | None = None
    landing_dir: str = "data/landing"
    warehouse_dir: str = "data/warehouse"
    ledger_url: str | None = None

    def load_config(self) -> PipelineConfig:
        return load_config(self.config_path)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse_dir)

    def landing(self) -> Path:
        return Path(self.landing_dir)

    def state_dir(self) -> Path:
        """Local state beside a local warehouse (ledger, landing hash cache)."""
        if "://" in self.warehouse_dir:
            home = os.environ.get("DAGSTER_HOME") or "."
            return Path(home) / "contact_pipelines_state"
        return Path(self.warehouse_dir) / "_state"

    def resolved_ledger_url(self) -> str:
        if self.ledger_url:
            return self.ledger_url
        state = self.state_dir()
        state.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(state / 'ledger.sqlite').resolve()}"

    def ledger(self):
        from contact_pipelines.core.delivery.ledger import Ledger

        return Ledger(self.resolved_ledger_url())


class _VendorResource(dg.ConfigurableResource):
    """Base for a vendor's endpoint and secrets; ENV maps each field to its variable."""

    ENV: ClassVar[dict[str, str]] = {}
    VENDOR: ClassVar[str] = ""

    def credentials(self):
        from contact_pipelines.core.delivery.credentials import from_env

        values = {var: getattr(self, attr) for attr, var in self.ENV.items()}
        return from_env(self.VENDOR, {var: v for var, v in values.items() if v})

    @classmethod
    def from_environment(cls) -> _VendorResource:
        # dg.EnvVar keeps the value out of the UI and the run config; an unset
        # variable is left empty so the sync names it in its own error, before
        # any call, instead of the whole code location failing to load.
        return cls(**{attr: _env_var_or_none(var) for attr, var in cls.ENV.items()})


class RetenoResource(_VendorResource):
    """Reteno API: RETENO_API_URL, RETENO_API_KEY."""

    ENV: ClassVar[dict[str, str]] = {"api_url": "RETENO_API_URL", "api_key": "RETENO_API_KEY"}
    VENDOR: ClassVar[str] = "reteno"
    api_url: str | None = None
    api_key: str | None = None


class DotdigitalResource(_VendorResource):
    """Dotdigital API: DOTDIGITAL_API_URL, DOTDIGITAL_API_USER, DOTDIGITAL_API_PASSWORD."""

    ENV: ClassVar[dict[str, str]] = {
        "api_url": "DOTDIGITAL_API_URL",
        "api_user": "DOTDIGITAL_API_USER",
        "api_password": "DOTDIGITAL_API_PASSWORD",
    }
    VENDOR: ClassVar[str] = "dotdigital"
    api_url: str | None = None
    api_user: str | None = None
    api_password: str | None = None


class PushtechResource(_VendorResource):
    """Pushtech / Cendyn CRM API: PUSHTECH_API_URL, PUSHTECH_ACCOUNT_ID, PUSHTECH_API_TOKEN."""

    ENV: ClassVar[dict[str, str]] = {
        "api_url": "PUSHTECH_API_URL",
        "account_id": "PUSHTECH_ACCOUNT_ID",
        "api_token": "PUSHTECH_API_TOKEN",
    }
    VENDOR: ClassVar[str] = "pushtech"
    api_url: str | None = None
    account_id: str | None = None
    api_token: str | None = None


VENDOR_RESOURCES: dict[str, type[_VendorResource]] = {
    "reteno": RetenoResource,
    "dotdigital": DotdigitalResource,
    "pushtech": PushtechResource,
}


def _env_var_or_none(name: str):
    return dg.EnvVar(name) if os.environ.get(name) else None


def pipeline_resource() -> PipelineResource:
    return PipelineResource(
        config_path=os.environ.get("CONTACT_PIPELINES_CONFIG") or None,
        landing_dir=os.environ.get(LANDING_ENV, "data/landing"),
        warehouse_dir=os.environ.get(WAREHOUSE_ENV, "data/warehouse"),
        ledger_url=os.environ.get(LEDGER_ENV) or None,
    )


def all_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "pipeline": pipeline_resource(),
        **{v: cls.from_environment() for v, cls in VENDOR_RESOURCES.items()},
    }
