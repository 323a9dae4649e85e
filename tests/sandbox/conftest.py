"""A live sandbox per test, and httpx clients authenticated the documented way per vendor."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from contact_pipelines.sandbox import SandboxServer, Timing


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(timing=Timing(import_delay=0.05, webhook_retry_scale=0.0005)) as server:
        server.seed_fields(
            reteno={12345: "plan_type"},
            dotdigital={"PLAN": "String", "SCORE": "Numeric"},
            pushtech=["plan_type"],
        )
        yield server


@pytest.fixture
def reteno(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    env = sandbox.env()
    with httpx.Client(
        base_url=env["RETENO_API_URL"], auth=("any-user", env["RETENO_API_KEY"]), timeout=10
    ) as client:
        yield client


@pytest.fixture
def dotdigital(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    env = sandbox.env()
    with httpx.Client(
        base_url=env["DOTDIGITAL_API_URL"],
        auth=(env["DOTDIGITAL_API_USER"], env["DOTDIGITAL_API_PASSWORD"]),
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def pushtech(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    env = sandbox.env()
    with httpx.Client(
        base_url=f"{env['PUSHTECH_API_URL']}/v2/account/{env['PUSHTECH_ACCOUNT_ID']}",
        headers={"Authorization": f"Token token={env['PUSHTECH_API_TOKEN']}"},
        timeout=10,
    ) as client:
        yield client


def _wait_until(condition: Callable[[], object], timeout: float = 5.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def wait_until() -> Callable[..., object]:
    """Poll a condition until it is truthy; fail the test when it never is."""
    return _wait_until
