"""Manifest loading: kubectl-like errors with field paths, warnings for unknown fields/kinds."""

from __future__ import annotations

import textwrap

import pytest

from hull import errors
from hull.play import manifest

POD = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: c
    image: busybox:1
    ports: [{containerPort: 80, hostPort: 8080}]
"""


def load(text: str):
    return manifest.load_text(textwrap.dedent(text), "t.yaml")


def error_of(text: str) -> str:
    with pytest.raises(errors.HullError) as info:
        load(text)
    return str(info.value)


def test_pod_loads_with_defaults():
    m = load(POD)
    (pod,) = m.pods
    assert (pod.name, pod.namespace, pod.labels) == ("web", "default", {"app": "web"})
    assert pod.spec["restartPolicy"] == "Always"
    assert pod.spec["terminationGracePeriodSeconds"] == 30
    c = pod.spec["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["ports"][0]["protocol"] == "TCP"
    assert m.warnings == []


@pytest.mark.parametrize("image,policy", [("busybox", "Always"), ("busybox:latest", "Always"),
                                          ("reg:5000/busybox", "Always"),
                                          ("reg:5000/busybox:1", "IfNotPresent"),
                                          ("busybox@sha256:" + "a" * 64, "IfNotPresent")])
def test_default_pull_policy(image, policy):
    assert manifest.validate.default_pull_policy(image) == policy


def test_host_port_out_of_range_names_the_field():
    text = POD.replace("hostPort: 8080}]", "hostPort: 8080}, {containerPort: 81, hostPort: 70000}]")
    message = error_of(text)
    assert 'The Pod "web" is invalid' in message
    assert "spec.containers[0].ports[1].hostPort: Invalid value: 70000: must be between 1 and " \
           "65535, inclusive" in message
    assert "t.yaml document 1" in message


def test_unknown_field_is_a_warning_with_its_path():
    m = load(POD.replace("image: busybox:1", "image: busybox:1\n    imagee: typo"))
    assert len(m.pods) == 1
    assert any('unknown field "spec.containers[0].imagee"' in w for w in m.warnings)


def test_unknown_kind_is_skipped_with_a_warning():
    m = load(POD + "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\n")
    assert len(m.pods) == 1
    assert any("skipping Service 'svc'" in w for w in m.warnings)


def test_malformed_yaml_reports_the_line():
    message = error_of("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    assert "cannot parse manifest t.yaml" in message and "line" in message


@pytest.mark.parametrize("change,expected", [
    (("image: busybox:1", "image: ''"), "spec.containers[0].image: Required value"),
    (("name: c", "name: C_bad"), "spec.containers[0].name: Invalid value: \"C_bad\""),
    (("containers:", "restartPolicy: Sometimes\n  containers:"),
     'spec.restartPolicy: Unsupported value: "Sometimes"'),
    (("image: busybox:1", "image: busybox:1\n    env: [{name: A, value: x, valueFrom: "
      "{fieldRef: {fieldPath: metadata.name}}}]"), "spec.containers[0].env[0].valueFrom"),
    (("image: busybox:1", "image: busybox:1\n    env: [{name: A, valueFrom: "
      "{fieldRef: {fieldPath: spec.bogus}}}]"),
     'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.bogus"'),
    (("image: busybox:1", "image: busybox:1\n    volumeMounts: [{name: nope, mountPath: /x}]"),
     'spec.containers[0].volumeMounts[0].name: Not found: "nope"'),
    (("image: busybox:1", "image: busybox:1\n    resources: {limits: {memory: lots}}"),
     "spec.containers[0].resources.limits[memory]: Invalid value: \"lots\""),
    (("image: busybox:1", "image: busybox:1\n    resources: {limits: {cpu: 100m}, "
      "requests: {cpu: 200m}}"), "must be less than or equal to cpu limit"),
    (("image: busybox:1", "image: busybox:1\n    livenessProbe: {periodSeconds: 1}"),
     "spec.containers[0].livenessProbe: Required value: must specify a handler type"),
    (("image: busybox:1", "image: busybox:1\n    readinessProbe: {tcpSocket: {port: 0}}"),
     "spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: 0"),
    (("containerPort: 80", "containerPort: '80'"),
     "spec.containers[0].ports[0].containerPort: Invalid value: \"80\": must be an integer"),
])
def test_invalid_pods(change, expected):
    assert expected in error_of(POD.replace(*change))


def test_duplicate_host_port_across_containers():
    text = POD + "  - name: d\n    image: busybox:1\n    ports: [{containerPort: 81, hostPort: 8080}]\n"
    assert "spec.containers[1].ports[0].hostPort: Duplicate value: \"8080/TCP\"" in error_of(text)


def test_volume_needs_exactly_one_source():
    text = POD + "  volumes:\n  - name: v\n    emptyDir: {}\n    hostPath: {path: /tmp}\n"
    assert "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type" \
        in error_of(text)


def test_every_document_error_is_reported():
    text = POD.replace("hostPort: 8080", "hostPort: -1") + "---\n" + \
        POD.replace("name: web", "name: web2").replace("image: busybox:1", "image: ''")
    message = error_of(text)
    assert '"web" is invalid' in message and '"web2" is invalid' in message


def test_duplicate_objects_refused():
    assert "defined twice" in error_of(POD + "---\n" + POD)


def test_claim_config_map_and_secret():
    m = load("""
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: data, namespace: apps}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cfg}
    data: {a: "1"}
    binaryData: {b: aGk=}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: s}
    data: {token: aHVsbA==}
    stringData: {plain: text}
    """)
    (claim,) = m.claims
    assert (claim.key, claim.size, claim.volume_name) == ("apps/data", 1 << 30,
                                                           "hull-play-apps-data")
    assert m.config_maps[0].data == {"a": b"1", "b": b"hi"}
    assert m.secrets[0].data == {"token": b"hull", "plain": b"text"}


def test_claim_without_size_and_bad_secret():
    assert "spec.resources[storage]: Required value" in error_of(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: d}\n"
        "spec: {accessModes: [ReadWriteOnce]}\n")
    assert "illegal base64 data" in error_of(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: '!!!'}\n")


def test_wrong_api_version_and_missing_kind():
    assert 'apiVersion: Unsupported value: \'apps/v1\'' in error_of(
        POD.replace("apiVersion: v1", "apiVersion: apps/v1"))
    assert "Object 'Kind' is missing" in error_of("apiVersion: v1\nmetadata: {name: x}\n")


def test_examples_load_cleanly():
    import glob
    import os
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples")
    files = glob.glob(os.path.join(root, "*.yaml"))
    assert files
    for path in files:
        m = manifest.load_file(path)
        assert m.pods and m.warnings == [], path


def test_warnings_kept_when_another_document_fails():
    text = POD.replace("image: busybox:1", "image: busybox:1\n    imagee: typo") + "---\n" + \
        POD.replace("name: web", "name: web2").replace("hostPort: 8080", "hostPort: -1")
    message = error_of(text)
    assert message.startswith("Warning: ") and 'unknown field "spec.containers[0].imagee"' in message
    assert '"web2" is invalid' in message
