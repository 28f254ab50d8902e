"""Library of the runtime-tools conformance runner (stdlib only)."""
