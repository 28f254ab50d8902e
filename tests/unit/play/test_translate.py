"""Pod spec -> CRI requests (kubelet's rules)."""

from __future__ import annotations

import pytest

from hull import errors
from hull._generated import api_pb2 as api
from hull.play import manifest, quantity, translate
from hull.play.model import ConfigMap, Secret

SPEC = """
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ns1, labels: {app: web}}
spec:
  hostname: front
  dnsPolicy: None
  dnsConfig: {nameservers: [10.0.0.10], searches: [svc.local], options: [{name: ndots, value: "2"}]}
  securityContext: {runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000],
                    sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "0"}]}
  containers:
  - name: app
    image: busybox:1
    command: ["sh", "-c"]
    args: ["echo $(GREETING) $$(NOT)"]
    workingDir: /srv
    env:
    - {name: GREETING, value: hello}
    - {name: FROM_CM, valueFrom: {configMapKeyRef: {name: cfg, key: k}}}
    - {name: FROM_SECRET, valueFrom: {secretKeyRef: {name: sec, key: pw}}}
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    - {name: OPT, valueFrom: {configMapKeyRef: {name: missing, key: k, optional: true}}}
    envFrom: [{configMapRef: {name: cfg}, prefix: CM_}]
    ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 53, protocol: UDP}]
    resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {cpu: 500m, memory: 128Mi}}
    securityContext:
      runAsUser: 1001
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {add: [NET_ADMIN], drop: [ALL]}
      seccompProfile: {type: RuntimeDefault}
    volumeMounts:
    - {name: data, mountPath: /data, subPath: sub/dir}
    - {name: conf, mountPath: /etc/conf}
  volumes:
  - {name: data, emptyDir: {}}
  - {name: conf, configMap: {name: cfg}}
"""


@pytest.fixture
def ctx(tmp_path):
    (pod,) = manifest.load_text(SPEC).pods
    return translate.PodContext(
        pod=pod, uid="u-1", log_directory="/logs", cgroup_parent="/hull",
        volume_paths={"data": str(tmp_path / "data"), "conf": str(tmp_path / "conf")},
        read_only_volumes={"conf"},
        config_maps={"cfg": ConfigMap("cfg", "ns1", {"k": b"v"})},
        secrets={"sec": Secret("sec", "ns1", {"pw": b"hunter2"})}, pod_ip="10.1.2.3")


def test_sandbox_config(ctx):
    cfg = translate.sandbox_config(ctx)
    assert (cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid) == ("web", "ns1", "u-1")
    assert cfg.hostname == "front"
    assert list(cfg.dns_config.servers) == ["10.0.0.10"]
    assert list(cfg.dns_config.options) == ["ndots:2"]
    assert [(p.container_port, p.host_port, p.protocol) for p in cfg.port_mappings] == \
        [(80, 8080, api.TCP)]
    assert cfg.labels["app"] == "web" and cfg.labels[translate.LABEL_UID] == "u-1"
    sc = cfg.linux.security_context
    assert sc.run_as_user.value == 1000
    assert list(sc.supplemental_groups) == [3000, 2000]
    assert sc.namespace_options.network == api.POD and sc.namespace_options.pid == api.CONTAINER
    assert cfg.linux.sysctls["net.ipv4.ip_unprivileged_port_start"] == "0"
    assert cfg.linux.cgroup_parent == "/hull"


def test_container_config(ctx, tmp_path):
    c = ctx.pod.spec["containers"][0]
    cfg = translate.container_config(ctx, c, 2, "spec.containers[0]")
    env = {kv.key: kv.value for kv in cfg.envs}
    assert env["GREETING"] == "hello" and env["FROM_CM"] == "v"
    assert env["FROM_SECRET"] == "hunter2"
    assert (env["NAME"], env["NS"], env["IP"], env["APP"]) == ("web", "ns1", "10.1.2.3", "web")
    assert env["CM_k"] == "v" and "OPT" not in env
    assert list(cfg.args) == ["echo hello $(NOT)"]
    assert cfg.working_dir == "/srv"
    assert cfg.metadata.attempt == 2 and cfg.log_path == "app/2.log"
    res = cfg.linux.resources
    assert res.cpu_shares == 256 and res.cpu_period == 100000 and res.cpu_quota == 50000
    assert res.memory_limit_in_bytes == 128 << 20
    sc = cfg.linux.security_context
    assert sc.run_as_user.value == 1001 and sc.readonly_rootfs and sc.no_new_privs
    assert list(sc.capabilities.add_capabilities) == ["NET_ADMIN"]
    assert list(sc.capabilities.drop_capabilities) == ["ALL"]
    assert sc.seccomp.profile_type == api.SecurityProfile.RuntimeDefault
    mounts = {m.container_path: m for m in cfg.mounts}
    assert mounts["/data"].host_path == str(tmp_path / "data" / "sub/dir")
    assert (tmp_path / "data" / "sub" / "dir").is_dir()      # subPath made, as kubelet does
    assert mounts["/etc/conf"].readonly and not mounts["/data"].readonly


def test_missing_config_map_key_names_the_field(ctx):
    c = ctx.pod.spec["containers"][0]
    ctx.config_maps = {"cfg": ConfigMap("cfg", "ns1", {})}
    with pytest.raises(errors.NotFound) as info:
        translate.environment(ctx, c, "spec.containers[0]")
    assert "spec.containers[0].env[1].valueFrom.configMapKeyRef: Not found: key \"k\" in " \
           "\"cfg\"" in str(info.value)


def test_sub_path_escaping_the_volume_refused(tmp_path):
    (tmp_path / "vol").mkdir()
    (tmp_path / "vol" / "link").symlink_to("/etc")
    with pytest.raises(errors.InvalidArgument):
        translate.ensure_sub_path(str(tmp_path / "vol"), "link", "x.subPath")


def test_expand():
    values = {"A": "1"}
    assert translate.expand("$(A)-$(B)-$$(A)-$", values) == "1-$(B)-$(A)-$"


def test_qos_and_oom_score():
    def pod(res):
        text = SPEC.split("    resources:")[0] if False else None
        return manifest.load_text(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
            f"  - {{name: c, image: b:1, resources: {res}}}\n").pods[0]
    best = pod("{}")
    assert translate.qos_class(best) == "BestEffort"
    assert translate.oom_score_adj(best, {}) == 1000
    guaranteed = pod("{limits: {cpu: 1, memory: 1Gi}}")
    assert translate.qos_class(guaranteed) == "Guaranteed"
    assert translate.oom_score_adj(guaranteed, guaranteed.spec["containers"][0]["resources"]) \
        == -997
    burst = pod("{requests: {memory: 1Mi}}")
    assert translate.qos_class(burst) == "Burstable"
    assert 2 <= translate.oom_score_adj(burst, burst.spec["containers"][0]["resources"]) <= 999


def test_resources_minimums():
    pod = manifest.load_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                             "  containers: [{name: c, image: b:1}]\n").pods[0]
    res = translate.resources({"limits": {"cpu": "1m"}}, pod)
    assert res.cpu_shares == 2 and res.cpu_quota == 1000   # kubelet's floors


def test_host_network_pod():
    pod = manifest.load_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                             "  hostNetwork: true\n  containers: [{name: c, image: b:1, "
                             "ports: [{containerPort: 9000, hostPort: 9000}]}]\n").pods[0]
    ctx = translate.PodContext(pod=pod, uid="u", log_directory="/l")
    cfg = translate.sandbox_config(ctx)
    assert cfg.linux.security_context.namespace_options.network == api.NODE
    assert cfg.hostname == ""


def test_quantities():
    assert quantity.millicores("250m") == 250 and quantity.millicores("1.5") == 1500
    assert quantity.to_bytes("1Ki") == 1024 and quantity.to_bytes("1k") == 1000
    assert quantity.to_bytes("1e3") == 1000 and quantity.to_bytes(5) == 5
    with pytest.raises(ValueError):
        quantity.parse("12 apples")


def test_sub_path_expr_expanded_from_env(tmp_path):
    (pod,) = manifest.load_text("""
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: b:1
    env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    volumeMounts: [{name: v, mountPath: /logs, subPathExpr: "logs/$(POD)"}]
  volumes: [{name: v, emptyDir: {}}]
""").pods
    ctx = translate.PodContext(pod=pod, uid="u", log_directory="/l",
                               volume_paths={"v": str(tmp_path)})
    cfg = translate.container_config(ctx, pod.spec["containers"][0], 0, "spec.containers[0]")
    assert cfg.mounts[0].host_path == str(tmp_path / "logs" / "p")
    assert (tmp_path / "logs" / "p").is_dir()
