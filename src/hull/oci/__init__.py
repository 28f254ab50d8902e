"""The OCI runtime behind ``hull-runc``: runc's lifecycle as a library.

One module per verb (``create``, ``start``, ``kill``, ``delete``,
``execute``, ``pause``, ``update``, ``listing``, ``run``, ``features``),
the fork chain (``init``, ``process``, ``rootfs``, ``sync``), state on
disk (``state``, ``status``) and hooks (``hooks``). Submodules are imported
explicitly, never from here: hull-runc pays only for the verb it runs.
See docs/runtime.md.
"""
