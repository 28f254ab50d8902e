"""Pure data and validation for the formats hull speaks: runtime-spec
(``hull.spec.runtime``), image-spec (``hull.spec.image``), CNI and CSI.

Nothing here touches the kernel or imports the rest of hull except
``hull.errors``. Submodules are imported explicitly, never from here, so
hull-runc pays only for what it uses.
"""
