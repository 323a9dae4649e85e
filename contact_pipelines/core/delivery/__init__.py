"""Delivery to vendors: credentials, retrying HTTP, batching, the ledger, the
Pushtech webhook receiver and the sync driver (``run_vendor_sync``)."""

from contact_pipelines.core.delivery.credentials import MissingSecretError, from_env
from contact_pipelines.core.delivery.ledger import Ledger
from contact_pipelines.core.delivery.retry import PollPolicy, RetryPolicy
from contact_pipelines.core.delivery.sync import (
    MissingVendorFieldsError,
    SyncAbortedError,
    SyncResult,
    run_vendor_sync,
)

__all__ = [
    "Ledger",
    "MissingSecretError",
    "MissingVendorFieldsError",
    "PollPolicy",
    "RetryPolicy",
    "SyncAbortedError",
    "SyncResult",
    "from_env",
    "run_vendor_sync",
]
