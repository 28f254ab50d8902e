"""hull: a Kubernetes node runtime stack (OCI runtime, images, CRI, CNI, CSI).

Keep this module empty of imports: every per-container executable
(hull-runc, the CNI plugins) imports it first, and start-up time is paid
on every pod.
"""

__version__ = "0.1.0"
