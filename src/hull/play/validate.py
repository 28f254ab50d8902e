"""The API server's rules for the fields `hull play` uses, with kubectl's wording.

Each check returns problems as ``"<field path>: <Reason>: <value>: <detail>"``
strings; the loader joins them under the object's name.
"""

from __future__ import annotations

import posixpath
import re

from hull.play import quantity

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
                   "CharDevice", "BlockDevice")
FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
               "spec.serviceAccountName", "status.podIP", "status.podIPs", "status.hostIP",
               "status.hostIPs")
FIELD_PATH_MAP = re.compile(r"^metadata\.(labels|annotations)\['[^']+'\]$")
VOLUME_SOURCES = ("emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim")
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def _invalid(path: str, value, detail: str) -> str:
    shown = f'"{value}"' if isinstance(value, str) else value
    return f"{path}: Invalid value: {shown}: {detail}"


def _required(path: str) -> str:
    return f"{path}: Required value"


def _unsupported(path: str, value, allowed) -> str:
    return (f'{path}: Unsupported value: "{value}": supported values: '
            + ", ".join(f'"{a}"' for a in allowed))


def metadata(meta: dict, kind: str) -> list[str]:
    name = meta.get("name")
    if not name:
        return [_required("metadata.name")]
    found = []
    if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        found.append(_invalid("metadata.name", name, "a lowercase RFC 1123 subdomain must "
                              "consist of lower case alphanumeric characters, '-' or '.', and "
                              "must start and end with an alphanumeric character"))
    namespace = meta.get("namespace")
    if namespace and (len(namespace) > 63 or not DNS_LABEL.match(namespace)):
        found.append(_invalid("metadata.namespace", namespace, "a lowercase RFC 1123 label"))
    return found


def pod_spec(spec: dict, path: str) -> list[str]:
    found: list[str] = []
    containers = spec.get("containers") or []
    if not containers:
        found.append(_required(f"{path}.containers"))
    policy = spec.get("restartPolicy", "Always")
    if policy not in RESTART_POLICIES:
        found.append(_unsupported(f"{path}.restartPolicy", policy, RESTART_POLICIES))
    volumes = _volumes(spec.get("volumes") or [], f"{path}.volumes", found)
    names: set[str] = set()
    host_ports: dict[tuple, str] = {}
    host_network = bool(spec.get("hostNetwork"))
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            cpath = f"{path}.{group}[{i}]"
            _container(c, cpath, group == "initContainers", volumes, found)
            name = c.get("name")
            if name in names:
                found.append(f'{cpath}.name: Duplicate value: "{name}"')
            names.add(name)
            if group == "containers":
                _ports(c.get("ports") or [], f"{cpath}.ports", host_network, host_ports, found)
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and grace < 0:
        found.append(_invalid(f"{path}.terminationGracePeriodSeconds", grace,
                              "must be greater than or equal to 0"))
    hostname = spec.get("hostname")
    if hostname and not DNS_LABEL.match(hostname):
        found.append(_invalid(f"{path}.hostname", hostname, "a lowercase RFC 1123 label"))
    dns_policy = spec.get("dnsPolicy", "ClusterFirst")
    if dns_policy not in DNS_POLICIES:
        found.append(_unsupported(f"{path}.dnsPolicy", dns_policy, DNS_POLICIES))
    if dns_policy == "None" and not (spec.get("dnsConfig") or {}).get("nameservers"):
        found.append(_required(f"{path}.dnsConfig.nameservers") +
                     ": must provide at least one DNS nameserver when DNSPolicy is None")
    for i, server in enumerate((spec.get("dnsConfig") or {}).get("nameservers") or []):
        if not _is_ip(server):
            found.append(_invalid(f"{path}.dnsConfig.nameservers[{i}]", server,
                                  "must be a valid IP address"))
    return found


def _volumes(volumes: list, path: str, found: list[str]) -> dict[str, dict]:
    by_name: dict[str, dict] = {}
    for i, v in enumerate(volumes):
        vpath = f"{path}[{i}]"
        name = v.get("name")
        if not name:
            found.append(_required(f"{vpath}.name"))
        elif not DNS_LABEL.match(name):
            found.append(_invalid(f"{vpath}.name", name, "a lowercase RFC 1123 label"))
        elif name in by_name:
            found.append(f'{vpath}.name: Duplicate value: "{name}"')
        sources = [s for s in VOLUME_SOURCES if v.get(s) is not None]
        if not sources:
            found.append(_required(vpath) + ": must specify a volume type "
                         f"(hull supports {', '.join(VOLUME_SOURCES)})")
        elif len(sources) > 1:
            found.append(f"{vpath}.{sources[1]}: Forbidden: may not specify more than 1 volume type")
        else:
            _volume_source(v, sources[0], f"{vpath}.{sources[0]}", found)
        if name:
            by_name[name] = v
    return by_name


def _volume_source(v: dict, kind: str, path: str, found: list[str]) -> None:
    src = v[kind] or {}
    if kind == "emptyDir":
        medium = src.get("medium", "")
        if medium not in ("", "Memory"):
            found.append(_unsupported(f"{path}.medium", medium, ("", "Memory")))
    elif kind == "hostPath":
        if not src.get("path"):
            found.append(_required(f"{path}.path"))
        elif not src["path"].startswith("/"):
            found.append(_invalid(f"{path}.path", src["path"], "must be an absolute path"))
        if src.get("type", "") not in HOST_PATH_TYPES:
            found.append(_unsupported(f"{path}.type", src.get("type"), HOST_PATH_TYPES[1:]))
    elif kind in ("configMap", "secret"):
        ref = "name" if kind == "configMap" else "secretName"
        if not src.get(ref):
            found.append(_required(f"{path}.{ref}"))
        mode = src.get("defaultMode")
        if mode is not None and not 0 <= mode <= 0o777:
            found.append(_invalid(f"{path}.defaultMode", mode,
                                  "must be a number between 0 and 0777 (octal), both inclusive"))
        for j, item in enumerate(src.get("items") or []):
            if not item.get("key"):
                found.append(_required(f"{path}.items[{j}].key"))
            _relative(item.get("path"), f"{path}.items[{j}].path", found, required=True)
    elif kind == "persistentVolumeClaim":
        if not src.get("claimName"):
            found.append(_required(f"{path}.claimName"))


def _relative(value, path: str, found: list[str], required: bool = False) -> None:
    if not value:
        if required:
            found.append(_required(path))
        return
    if value.startswith("/"):
        found.append(_invalid(path, value, "must be a relative path"))
    elif ".." in value.split("/"):
        found.append(_invalid(path, value, "must not contain '..'"))


def _container(c: dict, path: str, init: bool, volumes: dict, found: list[str]) -> None:
    name = c.get("name")
    if not name:
        found.append(_required(f"{path}.name"))
    elif len(name) > 63 or not DNS_LABEL.match(name):
        found.append(_invalid(f"{path}.name", name, "a lowercase RFC 1123 label must consist "
                              "of lower case alphanumeric characters or '-'"))
    if not c.get("image"):
        found.append(_required(f"{path}.image"))
    pull = c.get("imagePullPolicy")
    if pull is not None and pull not in PULL_POLICIES:
        found.append(_unsupported(f"{path}.imagePullPolicy", pull, PULL_POLICIES))
    _env(c.get("env") or [], f"{path}.env", found)
    for i, source in enumerate(c.get("envFrom") or []):
        refs = [k for k in ("configMapRef", "secretRef") if source.get(k) is not None]
        if len(refs) != 1:
            found.append(_invalid(f"{path}.envFrom[{i}]", "", "must specify exactly one of: "
                                  "`configMapRef` or `secretRef`"))
        elif not (source[refs[0]] or {}).get("name"):
            found.append(_required(f"{path}.envFrom[{i}].{refs[0]}.name"))
    _resources(c.get("resources") or {}, f"{path}.resources", found)
    _mounts(c.get("volumeMounts") or [], f"{path}.volumeMounts", volumes, found)
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = c.get(probe_name)
        if probe is None:
            continue
        if init:
            found.append(f"{path}.{probe_name}: Forbidden: may not be set for init containers")
            continue
        _probe(probe, f"{path}.{probe_name}", probe_name != "readinessProbe", found)
    if init and c.get("ports"):
        pass  # allowed by the API, unused
    if c.get("workingDir") and not c["workingDir"].startswith("/"):
        found.append(_invalid(f"{path}.workingDir", c["workingDir"], "must be an absolute path"))


def _env(env: list, path: str, found: list[str]) -> None:
    for i, var in enumerate(env):
        vpath = f"{path}[{i}]"
        name = var.get("name")
        if not name:
            found.append(_required(f"{vpath}.name"))
        elif not ENV_NAME.match(name):
            found.append(_invalid(f"{vpath}.name", name, "a valid environment variable name "
                                  "must consist of alphabetic characters, digits, '_', '-', or "
                                  "'.', and must not start with a digit"))
        source = var.get("valueFrom")
        if source is None:
            continue
        if var.get("value") is not None:
            found.append(_invalid(f"{vpath}.valueFrom", "", "may not be specified when `value` "
                                  "is not empty"))
        kinds = [k for k in ("configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef")
                 if source.get(k) is not None]
        if len(kinds) != 1:
            found.append(_invalid(f"{vpath}.valueFrom", "", "must specify one of: `fieldRef`, "
                                  "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
            continue
        ref = source[kinds[0]] or {}
        rpath = f"{vpath}.valueFrom.{kinds[0]}"
        if kinds[0] in ("configMapKeyRef", "secretKeyRef"):
            if not ref.get("name"):
                found.append(_required(f"{rpath}.name"))
            if not ref.get("key"):
                found.append(_required(f"{rpath}.key"))
        elif kinds[0] == "fieldRef":
            field_path = ref.get("fieldPath", "")
            if field_path not in FIELD_PATHS and not FIELD_PATH_MAP.match(field_path):
                found.append(_unsupported(f"{rpath}.fieldPath", field_path, FIELD_PATHS))
        elif ref.get("resource") not in ("limits.cpu", "limits.memory", "requests.cpu",
                                         "requests.memory"):
            found.append(_unsupported(f"{rpath}.resource", ref.get("resource"),
                                      ("limits.cpu", "limits.memory", "requests.cpu",
                                       "requests.memory")))


def _resources(resources: dict, path: str, found: list[str]) -> None:
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for section, values in (("limits", limits), ("requests", requests)):
        for key, value in values.items():
            if quantity.parse(value) < 0:
                found.append(_invalid(f"{path}.{section}[{key}]", str(value),
                                      "must be greater than or equal to 0"))
    for key in ("cpu", "memory"):
        if key in limits and key in requests and \
                quantity.parse(requests[key]) > quantity.parse(limits[key]):
            found.append(_invalid(f"{path}.requests", str(requests[key]),
                                  f"must be less than or equal to {key} limit of {limits[key]}"))


def _mounts(mounts: list, path: str, volumes: dict, found: list[str]) -> None:
    seen: set[str] = set()
    for i, m in enumerate(mounts):
        mpath = f"{path}[{i}]"
        name = m.get("name")
        if not name:
            found.append(_required(f"{mpath}.name"))
        elif name not in volumes:
            found.append(f'{mpath}.name: Not found: "{name}"')
        target = m.get("mountPath")
        if not target:
            found.append(_required(f"{mpath}.mountPath"))
        elif not target.startswith("/"):
            found.append(_invalid(f"{mpath}.mountPath", target, "must be an absolute path"))
        elif posixpath.normpath(target) in seen:
            found.append(f'{mpath}.mountPath: Invalid value: "{target}": must be unique')
        else:
            seen.add(posixpath.normpath(target))
        _relative(m.get("subPath"), f"{mpath}.subPath", found)
        if m.get("subPath") and m.get("subPathExpr"):
            found.append(f"{mpath}.subPathExpr: Invalid value: \"{m['subPathExpr']}\": "
                         f"subPathExpr and subPath are mutually exclusive")
        propagation = m.get("mountPropagation")
        if propagation not in (None, "None", "HostToContainer", "Bidirectional"):
            found.append(_unsupported(f"{mpath}.mountPropagation", propagation,
                                      ("None", "HostToContainer", "Bidirectional")))


def _ports(ports: list, path: str, host_network: bool, host_ports: dict,
           found: list[str]) -> None:
    for i, p in enumerate(ports):
        ppath = f"{path}[{i}]"
        cport = p.get("containerPort")
        if cport is None:
            found.append(_required(f"{ppath}.containerPort"))
        elif not 1 <= cport <= 65535:
            found.append(_invalid(f"{ppath}.containerPort", cport,
                                  "must be between 1 and 65535, inclusive"))
        hport = p.get("hostPort", 0)
        if not 0 <= hport <= 65535:
            found.append(_invalid(f"{ppath}.hostPort", hport,
                                  "must be between 1 and 65535, inclusive"))
        protocol = p.get("protocol", "TCP")
        if protocol not in PROTOCOLS:
            found.append(_unsupported(f"{ppath}.protocol", protocol, PROTOCOLS))
        if host_network and hport and cport and hport != cport:
            found.append(_invalid(f"{ppath}.hostPort", hport,
                                  "must match `containerPort` when `hostNetwork` is true"))
        host_ip = p.get("hostIP", "")
        if host_ip and not _is_ip(host_ip):
            found.append(_invalid(f"{ppath}.hostIP", host_ip, "must be a valid IP address"))
        if hport:
            key = (hport, protocol)
            if key in host_ports:
                found.append(f'{ppath}.hostPort: Duplicate value: "{hport}/{protocol}" '
                             f"(also {host_ports[key]})")
            host_ports[key] = f"{ppath}.hostPort"


def _probe(probe: dict, path: str, single_success: bool, found: list[str]) -> None:
    handlers = [h for h in PROBE_HANDLERS if probe.get(h) is not None]
    if not handlers:
        found.append(_required(path) + ": must specify a handler type")
    elif len(handlers) > 1:
        found.append(f"{path}.{handlers[1]}: Forbidden: may not specify more than 1 handler type")
    elif handlers[0] == "grpc":
        found.append(f"{path}.grpc: Unsupported value: hull does not run gRPC probes "
                     f"(use exec, httpGet or tcpSocket)")
    elif handlers[0] == "exec" and not (probe["exec"] or {}).get("command"):
        found.append(_required(f"{path}.exec.command"))
    elif handlers[0] in ("httpGet", "tcpSocket"):
        port = (probe[handlers[0]] or {}).get("port")
        if port is None:
            found.append(_required(f"{path}.{handlers[0]}.port"))
        elif isinstance(port, int) and not 1 <= port <= 65535:
            found.append(_invalid(f"{path}.{handlers[0]}.port", port,
                                  "must be between 1 and 65535, inclusive"))
    for key, low in (("initialDelaySeconds", 0), ("periodSeconds", 1), ("timeoutSeconds", 1),
                     ("failureThreshold", 1), ("successThreshold", 1)):
        value = probe.get(key)
        if value is not None and value < low:
            found.append(_invalid(f"{path}.{key}", value,
                                  f"must be greater than or equal to {low}"))
    if single_success and probe.get("successThreshold", 1) != 1:
        found.append(_invalid(f"{path}.successThreshold", probe["successThreshold"],
                              "must be 1"))


def claim_spec(spec: dict, path: str) -> list[str]:
    found = []
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        found.append(_required(f"{path}.resources[storage]"))
    elif quantity.parse(storage) <= 0:
        found.append(_invalid(f"{path}.resources.requests[storage]", str(storage),
                              "must be greater than zero"))
    modes = spec.get("accessModes") or []
    if not modes:
        found.append(_required(f"{path}.accessModes"))
    for i, mode in enumerate(modes):
        if mode not in ACCESS_MODES:
            found.append(_unsupported(f"{path}.accessModes[{i}]", mode, ACCESS_MODES))
    mode = spec.get("volumeMode", "Filesystem")
    if mode not in ("Filesystem", "Block"):
        found.append(_unsupported(f"{path}.volumeMode", mode, ("Block", "Filesystem")))
    elif mode == "Block":
        found.append(_unsupported(f"{path}.volumeMode", mode, ("Filesystem",)) +
                     " (hull play mounts claims as filesystems)")
    return found


def _is_ip(text: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def default_pod_spec(spec: dict) -> None:
    """Fill the defaults the API server would, so stored specs are explicit."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    for group in ("initContainers", "containers"):
        for c in spec.get(group) or []:
            c.setdefault("imagePullPolicy", default_pull_policy(c["image"]))
            for port in c.get("ports") or []:
                port.setdefault("protocol", "TCP")
            for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
                probe = c.get(probe_name)
                if probe is not None:
                    probe.setdefault("initialDelaySeconds", 0)
                    probe.setdefault("periodSeconds", 10)
                    probe.setdefault("timeoutSeconds", 1)
                    probe.setdefault("failureThreshold", 3)
                    probe.setdefault("successThreshold", 1)


def default_pull_policy(image: str) -> str:
    """Always for ``:latest`` or no tag (and no digest), else IfNotPresent: the API's rule."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"
