"""Every direct system call hull makes that the stdlib lacks, through ``_ctypes``
(``hull.sys.ffi``: the few C types we use, without the ``ctypes`` package).

Nothing here imports the rest of hull. Functions raise ``OSError`` with the
kernel's errno; callers convert at their own boundary. Keep imports light:
hull-runc and the CNI plugins load this on every container and pod start.
"""
