"""Content-addressed blob store: ingest -> verify size and digest -> commit."""

from hull.content.store import ContentStore, Writer

__all__ = ["ContentStore", "Writer"]
