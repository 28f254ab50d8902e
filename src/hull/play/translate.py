"""Pod spec -> CRI requests, with kubelet's rules.

Pure functions over the validated spec: the sandbox config (metadata,
hostname, DNS, namespaces, port mappings, security context, cgroup
parent) and each container's config (command/args, env, working dir,
mounts, resources, security context, log path). Anything that needs the
machine (volume directories, the pod IP) comes in as arguments.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from hull import errors
from hull._generated import api_pb2 as api
from hull.play import quantity
from hull.play.model import ConfigMap, Pod, Secret

CPU_PERIOD = 100_000          # kubelet's CFS period (us)
MIN_SHARES = 2
MIN_QUOTA = 1000
PROTOCOLS = {"TCP": api.TCP, "UDP": api.UDP, "SCTP": api.SCTP}
SECCOMP = {"RuntimeDefault": api.SecurityProfile.RuntimeDefault,
           "Unconfined": api.SecurityProfile.Unconfined,
           "Localhost": api.SecurityProfile.Localhost}
PROPAGATION = {None: api.PROPAGATION_PRIVATE, "None": api.PROPAGATION_PRIVATE,
               "HostToContainer": api.PROPAGATION_HOST_TO_CONTAINER,
               "Bidirectional": api.PROPAGATION_BIDIRECTIONAL}
LABEL_POD = "io.kubernetes.pod.name"
LABEL_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER = "io.kubernetes.container.name"
LABEL_PLAY = "dev.hull.play"


@dataclass
class PodContext:
    """What the translation needs beyond the spec."""
    pod: Pod
    uid: str
    log_directory: str
    cgroup_parent: str = ""
    #: volume name -> host directory (or file) prepared for it
    volume_paths: dict[str, str] = field(default_factory=dict)
    #: volume names whose contents must be mounted read-only (configMap, secret)
    read_only_volumes: set[str] = field(default_factory=set)
    config_maps: dict[str, ConfigMap] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    pod_ip: str = ""
    host_ip: str = "127.0.0.1"
    attempt: int = 0


def sandbox_config(ctx: PodContext) -> api.PodSandboxConfig:
    pod, spec = ctx.pod, ctx.pod.spec
    labels = dict(pod.labels)
    labels.update({LABEL_POD: pod.name, LABEL_NAMESPACE: pod.namespace, LABEL_UID: ctx.uid,
                   LABEL_PLAY: "1"})
    config = api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name=pod.name, namespace=pod.namespace, uid=ctx.uid,
                                        attempt=ctx.attempt),
        hostname=hostname(pod), log_directory=ctx.log_directory, labels=labels,
        annotations=dict(pod.annotations), port_mappings=port_mappings(spec))
    dns = dns_config(spec)
    if dns is not None:
        config.dns_config.CopyFrom(dns)
    linux = config.linux
    if ctx.cgroup_parent:
        linux.cgroup_parent = ctx.cgroup_parent
    for sysctl in (spec.get("securityContext") or {}).get("sysctls") or []:
        linux.sysctls[sysctl["name"]] = sysctl["value"]
    sc = linux.security_context
    ns = sc.namespace_options
    ns.network = api.NODE if spec.get("hostNetwork") else api.POD
    ns.pid = api.NODE if spec.get("hostPID") else (
        api.POD if spec.get("shareProcessNamespace") else api.CONTAINER)
    ns.ipc = api.NODE if spec.get("hostIPC") else api.POD
    pod_sc = spec.get("securityContext") or {}
    if "runAsUser" in pod_sc:
        sc.run_as_user.value = pod_sc["runAsUser"]
    if "runAsGroup" in pod_sc:
        sc.run_as_group.value = pod_sc["runAsGroup"]
    sc.supplemental_groups.extend(_pod_groups(pod_sc))
    if (pod_sc.get("seccompProfile") or {}).get("type"):
        sc.seccomp.CopyFrom(_seccomp(pod_sc["seccompProfile"]))
    sc.privileged = any(((c.get("securityContext") or {}).get("privileged"))
                        for c in pod.containers() + pod.init_containers())
    return config


def hostname(pod: Pod) -> str:
    if pod.spec.get("hostNetwork"):
        return ""  # the node's own name: the pod shares the host's UTS view
    name = pod.spec.get("hostname") or pod.name
    return name[:63].rstrip("-.")


def dns_config(spec: dict) -> api.DNSConfig | None:
    """kubelet's rule: dnsPolicy None takes dnsConfig alone; others merge it over the host's."""
    extra = spec.get("dnsConfig") or {}
    policy = spec.get("dnsPolicy", "ClusterFirst")
    if policy != "None" and not extra:
        return None  # hulld copies the host's resolv.conf
    servers, searches, options = [], [], []
    if policy != "None":
        servers, searches, options = _host_resolv()
    servers += list(extra.get("nameservers") or [])
    searches += list(extra.get("searches") or [])
    for opt in extra.get("options") or []:
        text = opt["name"] if opt.get("value") is None else f"{opt['name']}:{opt['value']}"
        options = [o for o in options if o.split(":")[0] != opt["name"]] + [text]
    return api.DNSConfig(servers=list(dict.fromkeys(servers))[:3],
                         searches=list(dict.fromkeys(searches))[:32], options=options)


def _host_resolv(path: str = "/etc/resolv.conf") -> tuple[list[str], list[str], list[str]]:
    servers, searches, options = [], [], []
    try:
        with open(path) as f:
            for line in f:
                words = line.split()
                if not words or words[0].startswith(("#", ";")):
                    continue
                if words[0] == "nameserver" and len(words) > 1:
                    servers.append(words[1])
                elif words[0] in ("search", "domain"):
                    searches.extend(words[1:])
                elif words[0] == "options":
                    options.extend(words[1:])
    except OSError:
        pass
    return servers, searches, options


def port_mappings(spec: dict) -> list[api.PortMapping]:
    mappings = []
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            if not p.get("hostPort"):
                continue
            mappings.append(api.PortMapping(
                protocol=PROTOCOLS[p.get("protocol", "TCP")], container_port=p["containerPort"],
                host_port=p["hostPort"], host_ip=p.get("hostIP", "")))
    return mappings


def _pod_groups(pod_sc: dict) -> list[int]:
    groups = list(pod_sc.get("supplementalGroups") or [])
    if pod_sc.get("fsGroup") is not None:
        groups.append(pod_sc["fsGroup"])
    return list(dict.fromkeys(groups))


def _seccomp(profile: dict) -> api.SecurityProfile:
    kind = profile.get("type", "RuntimeDefault")
    if kind not in SECCOMP:
        raise errors.InvalidArgument(f"cannot use seccomp profile type {kind!r}")
    return api.SecurityProfile(profile_type=SECCOMP[kind],
                               localhost_ref=profile.get("localhostProfile", ""))


def container_config(ctx: PodContext, c: dict, attempt: int, path: str,
                     image_ref: str = "") -> api.ContainerConfig:
    """The CRI config for container ``c`` (``path`` is its field path, for messages)."""
    pod = ctx.pod
    env = environment(ctx, c, path)
    command, args = expand_command(c, dict(env))
    config = api.ContainerConfig(
        metadata=api.ContainerMetadata(name=c["name"], attempt=attempt),
        image=api.ImageSpec(image=image_ref or c["image"], user_specified_image=c["image"]),
        command=command, args=args, working_dir=c.get("workingDir", ""),
        envs=[api.KeyValue(key=k, value=v) for k, v in env],
        mounts=mounts(ctx, c, path, dict(env)),
        labels={LABEL_POD: pod.name, LABEL_NAMESPACE: pod.namespace, LABEL_UID: ctx.uid,
                LABEL_CONTAINER: c["name"], LABEL_PLAY: "1"},
        annotations={"io.kubernetes.container.restartCount": str(attempt)},
        log_path=f"{c['name']}/{attempt}.log",
        stdin=bool(c.get("stdin")), stdin_once=bool(c.get("stdinOnce")), tty=bool(c.get("tty")))
    config.linux.resources.CopyFrom(resources(c.get("resources") or {}, pod))
    config.linux.security_context.CopyFrom(security_context(pod.spec, c))
    return config


def environment(ctx: PodContext, c: dict, path: str) -> list[tuple[str, str]]:
    """envFrom first, then env (later wins), $(VAR) expanded as kubelet does."""
    values: dict[str, str] = {}
    for i, source in enumerate(c.get("envFrom") or []):
        values.update(_env_from(ctx, source, f"{path}.envFrom[{i}]"))
    for i, var in enumerate(c.get("env") or []):
        vpath = f"{path}.env[{i}]"
        if var.get("valueFrom") is None:
            values[var["name"]] = expand(var.get("value") or "", values)
            continue
        value = _value_from(ctx, c, var["valueFrom"], f"{vpath}.valueFrom")
        if value is not None:
            values[var["name"]] = value
    return list(values.items())


def _env_from(ctx: PodContext, source: dict, path: str) -> dict[str, str]:
    prefix = source.get("prefix", "")
    if source.get("configMapRef") is not None:
        ref, store, what = source["configMapRef"], ctx.config_maps, "configMapRef"
    else:
        ref, store, what = source["secretRef"], ctx.secrets, "secretRef"
    obj = store.get(ref["name"])
    if obj is None:
        if ref.get("optional"):
            return {}
        raise errors.NotFound(f"{path}.{what}.name: Not found: \"{ref['name']}\"")
    return {prefix + key: value.decode(errors="replace") for key, value in obj.data.items()}


def _value_from(ctx: PodContext, c: dict, source: dict, path: str) -> str | None:
    for kind, store in (("configMapKeyRef", ctx.config_maps), ("secretKeyRef", ctx.secrets)):
        ref = source.get(kind)
        if ref is None:
            continue
        obj = store.get(ref["name"])
        if obj is None or ref["key"] not in obj.data:
            if ref.get("optional"):
                return None
            missing = f"\"{ref['name']}\"" if obj is None else \
                f"key \"{ref['key']}\" in \"{ref['name']}\""
            raise errors.NotFound(f"{path}.{kind}: Not found: {missing}")
        return obj.data[ref["key"]].decode(errors="replace")
    if source.get("fieldRef") is not None:
        return field_value(ctx, source["fieldRef"]["fieldPath"])
    ref = source["resourceFieldRef"]
    return _resource_value(c, ref)


def field_value(ctx: PodContext, field_path: str) -> str:
    pod = ctx.pod
    simple = {"metadata.name": pod.name, "metadata.namespace": pod.namespace,
              "metadata.uid": ctx.uid, "spec.nodeName": _node_name(),
              "spec.serviceAccountName": pod.spec.get("serviceAccountName", "default"),
              "status.podIP": ctx.pod_ip, "status.podIPs": ctx.pod_ip,
              "status.hostIP": ctx.host_ip, "status.hostIPs": ctx.host_ip}
    if field_path in simple:
        return simple[field_path]
    section, key = field_path.split("[", 1)
    key = key.strip("[]'")
    source = pod.labels if section == "metadata.labels" else pod.annotations
    return source.get(key, "")


def _node_name() -> str:
    import os
    return os.uname().nodename


def _resource_value(c: dict, ref: dict) -> str:
    section, kind = ref["resource"].split(".")
    value = ((c.get("resources") or {}).get(section) or {}).get(kind)
    divisor = quantity.parse(ref.get("divisor") or 1)
    if value is None:  # kubelet reports node allocatable; we report the machine's
        import os
        value = os.cpu_count() if kind == "cpu" else _memory_total()
    result = quantity.parse(value) / divisor
    return str(int(result.to_integral_value(rounding="ROUND_CEILING")))


def _memory_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def expand(text: str, values: dict[str, str]) -> str:
    """kubelet's $(VAR) expansion: $$ escapes, unknown references stay as written."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i) and ")" in text[i + 2:]:
            end = text.index(")", i + 2)
            name = text[i + 2:end]
            out.append(values.get(name, text[i:end + 1]))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def expand_command(c: dict, env: dict[str, str]) -> tuple[list[str], list[str]]:
    return ([expand(a, env) for a in c.get("command") or []],
            [expand(a, env) for a in c.get("args") or []])


def mounts(ctx: PodContext, c: dict, path: str, env: dict[str, str] | None = None
           ) -> list[api.Mount]:
    result = []
    for i, m in enumerate(c.get("volumeMounts") or []):
        host = ctx.volume_paths.get(m["name"])
        if host is None:
            raise errors.NotFound(f"{path}.volumeMounts[{i}].name: Not found: \"{m['name']}\"")
        if m.get("subPath"):
            host = ensure_sub_path(host, m["subPath"], f"{path}.volumeMounts[{i}].subPath")
        elif m.get("subPathExpr"):   # $(VAR) from the container's env, as kubelet expands it
            sub = expand(m["subPathExpr"], env or {})
            if sub.startswith("/") or ".." in sub.split("/"):
                raise errors.InvalidArgument(f"{path}.volumeMounts[{i}].subPathExpr: Invalid "
                                             f"value: \"{sub}\": must be a relative path")
            host = ensure_sub_path(host, sub, f"{path}.volumeMounts[{i}].subPathExpr")
        readonly = bool(m.get("readOnly")) or m["name"] in ctx.read_only_volumes
        result.append(api.Mount(container_path=m["mountPath"], host_path=host, readonly=readonly,
                                propagation=PROPAGATION[m.get("mountPropagation")]))
    return result


def ensure_sub_path(base: str, sub: str, path: str) -> str:
    """kubelet creates a missing subPath as a directory; one escaping the volume is refused."""
    import os
    target = os.path.join(base, sub)
    real_base = os.path.realpath(base)
    real = os.path.realpath(target)
    if real != real_base and not real.startswith(real_base + "/"):
        raise errors.InvalidArgument(f"{path}: Invalid value: \"{sub}\": resolves outside "
                                     f"the volume")
    if not os.path.lexists(target):
        os.makedirs(target, mode=0o755, exist_ok=True)
    return target


def resources(res: dict, pod: Pod) -> api.LinuxContainerResources:
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    out = api.LinuxContainerResources()
    cpu_request = requests.get("cpu", limits.get("cpu"))
    out.cpu_shares = max(MIN_SHARES, quantity.millicores(cpu_request) * 1024 // 1000) \
        if cpu_request is not None else MIN_SHARES
    if "cpu" in limits:
        out.cpu_period = CPU_PERIOD
        out.cpu_quota = max(MIN_QUOTA, quantity.millicores(limits["cpu"]) * CPU_PERIOD // 1000)
    if "memory" in limits:
        out.memory_limit_in_bytes = quantity.to_bytes(limits["memory"])
    out.oom_score_adj = oom_score_adj(pod, res)
    return out


def qos_class(pod: Pod) -> str:
    containers = pod.containers() + pod.init_containers()
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        for kind in ("cpu", "memory"):
            if kind in limits or kind in requests:
                any_set = True
            limit, request = limits.get(kind), requests.get(kind, limits.get(kind))
            if limit is None or quantity.parse(request) != quantity.parse(limit):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def oom_score_adj(pod: Pod, res: dict) -> int:
    qos = qos_class(pod)
    if qos == "Guaranteed":
        return -997
    if qos == "BestEffort":
        return 1000
    request = (res.get("requests") or {}).get("memory")
    if request is None:
        return 999
    adj = 1000 - (1000 * quantity.to_bytes(request)) // max(1, _memory_total())
    return max(2, min(999, adj))


def security_context(spec: dict, c: dict) -> api.LinuxContainerSecurityContext:
    pod_sc = spec.get("securityContext") or {}
    own = c.get("securityContext") or {}
    sc = api.LinuxContainerSecurityContext()
    user = own.get("runAsUser", pod_sc.get("runAsUser"))
    group = own.get("runAsGroup", pod_sc.get("runAsGroup"))
    if user is not None:
        sc.run_as_user.value = user
    if group is not None:
        sc.run_as_group.value = group
    sc.supplemental_groups.extend(_pod_groups(pod_sc))
    sc.privileged = bool(own.get("privileged"))
    sc.readonly_rootfs = bool(own.get("readOnlyRootFilesystem"))
    # allowPrivilegeEscalation defaults to true unless the container is unprivileged with
    # no CAP_SYS_ADMIN; false means no_new_privs
    sc.no_new_privs = own.get("allowPrivilegeEscalation") is False
    caps = own.get("capabilities") or {}
    sc.capabilities.add_capabilities.extend(caps.get("add") or [])
    sc.capabilities.drop_capabilities.extend(caps.get("drop") or [])
    profile = own.get("seccompProfile") or pod_sc.get("seccompProfile")
    if profile:
        sc.seccomp.CopyFrom(_seccomp(profile))
    ns = sc.namespace_options
    ns.network = api.NODE if spec.get("hostNetwork") else api.POD
    ns.pid = api.NODE if spec.get("hostPID") else (
        api.POD if spec.get("shareProcessNamespace") else api.CONTAINER)
    ns.ipc = api.NODE if spec.get("hostIPC") else api.POD
    if own.get("procMount") == "Unmasked":
        pass  # hulld applies its masked paths; Unmasked needs a user namespace
    return sc


def run_as_non_root_problem(c: dict, spec: dict, uid: int | None, path: str) -> str | None:
    """kubelet refuses to start runAsNonRoot containers that would run as uid 0."""
    own = c.get("securityContext") or {}
    non_root = own.get("runAsNonRoot", (spec.get("securityContext") or {}).get("runAsNonRoot"))
    if non_root and uid == 0:
        return (f"{path}.securityContext.runAsNonRoot: container has runAsNonRoot and image "
                f"will run as root")
    return None


def mount_target_ok(target: str) -> bool:
    return posixpath.isabs(target)
