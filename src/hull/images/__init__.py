"""The image store: pull, metadata, snapshots for containers, GC, runtime spec.

``ImageStore`` is the facade; the other modules are its parts.
"""

from hull.images.image import GcReport, Image, ProgressEvent
from hull.images.store import ImageStore

__all__ = ["GcReport", "Image", "ImageStore", "ProgressEvent"]
