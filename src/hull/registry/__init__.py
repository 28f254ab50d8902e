"""OCI distribution client: references, registry config, credentials, auth, pull and push.

Public names::

    from hull.registry import parse, Reference, RegistryConfig, Endpoint, Credentials,
                              RegistryClient, Resolved, Descriptor, BlobStream
"""

from hull.registry.blob import BlobStream
from hull.registry.client import RegistryClient, Resolved, compute_digest
from hull.registry.config import Endpoint, RegistryConfig
from hull.registry.credentials import Credentials
from hull.registry.media import Descriptor, Platform, parse_platform
from hull.registry.reference import Reference, parse
from hull.registry.retry import RetryPolicy

__all__ = ["BlobStream", "Credentials", "Descriptor", "Endpoint", "Platform", "Reference",
           "RegistryClient", "RegistryConfig", "Resolved", "RetryPolicy", "compute_digest",
           "parse", "parse_platform"]
