"""The local vendor sandbox: Reteno, Dotdigital and Pushtech on one loopback HTTP server.

Written from vendors.md alone; it imports nothing from the vendor clients or the
delivery code, so a client and the sandbox cannot share a mistake.
"""

from .contract import Timing
from .faults import FaultSpec
from .pushtech import webhook_signature
from .server import Credentials, SandboxServer, serve

__all__ = ["Credentials", "FaultSpec", "SandboxServer", "Timing", "serve", "webhook_signature"]
