"""hulld, hull's CRI server (runtime.v1 RuntimeService and ImageService over gRPC).

One module per RPC (``<object>_<verb>.py``) reached through ``service.py``;
state in ``store.py`` (SQLite); containers through ``runtime.py``'s
interface (``oci_conmon.py``: any runc-compatible binary under conmon);
errors mapped to gRPC codes only in ``interceptor.py``. See docs/cri.md.
"""
