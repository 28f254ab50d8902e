"""The shape of the Kubernetes objects `hull play` reads, as data.

A field's type is one of the names in ``SCALARS``, a dict (an object with
those fields), ``[type]`` (a list of that type) or ``{"*": type}`` (a map
with any keys). The walker in ``hull.play.manifest`` checks documents
against these: wrong types are errors, unknown fields are warnings, as
``kubectl apply`` reports them.

``IGNORED`` fields are valid Kubernetes but mean nothing on one machine
(scheduling, service accounts); they are accepted silently.
"""

from __future__ import annotations

SCALARS = {"str", "int", "bool", "intstr", "quantity", "number", "any"}

STRMAP = {"*": "str"}

OBJECT_META = {
    "name": "str", "namespace": "str", "labels": STRMAP, "annotations": STRMAP,
    "uid": "str", "generateName": "str", "resourceVersion": "str",
    "creationTimestamp": "any", "finalizers": ["str"], "ownerReferences": ["any"],
    "generation": "int", "managedFields": ["any"],
}

KEY_REF = {"name": "str", "key": "str", "optional": "bool"}

ENV_VAR = {
    "name": "str", "value": "str",
    "valueFrom": {
        "configMapKeyRef": KEY_REF, "secretKeyRef": KEY_REF,
        "fieldRef": {"fieldPath": "str", "apiVersion": "str"},
        "resourceFieldRef": {"resource": "str", "containerName": "str", "divisor": "quantity"},
    },
}

ENV_FROM = {
    "prefix": "str",
    "configMapRef": {"name": "str", "optional": "bool"},
    "secretRef": {"name": "str", "optional": "bool"},
}

PORT = {"name": "str", "containerPort": "int", "hostPort": "int", "hostIP": "str",
        "protocol": "str"}

RESOURCES = {"limits": {"*": "quantity"}, "requests": {"*": "quantity"}, "claims": ["any"]}

CAPABILITIES = {"add": ["str"], "drop": ["str"]}

SECCOMP = {"type": "str", "localhostProfile": "str"}

SE_LINUX = {"user": "str", "role": "str", "type": "str", "level": "str"}

CONTAINER_SECURITY = {
    "runAsUser": "int", "runAsGroup": "int", "runAsNonRoot": "bool",
    "privileged": "bool", "allowPrivilegeEscalation": "bool",
    "readOnlyRootFilesystem": "bool", "capabilities": CAPABILITIES,
    "seccompProfile": SECCOMP, "seLinuxOptions": SE_LINUX,
    "appArmorProfile": {"type": "str", "localhostProfile": "str"},
    "procMount": "str", "windowsOptions": "any",
}

POD_SECURITY = {
    "runAsUser": "int", "runAsGroup": "int", "runAsNonRoot": "bool",
    "fsGroup": "int", "fsGroupChangePolicy": "str", "supplementalGroups": ["int"],
    "supplementalGroupsPolicy": "str",
    "sysctls": [{"name": "str", "value": "str"}], "seccompProfile": SECCOMP,
    "seLinuxOptions": SE_LINUX, "appArmorProfile": {"type": "str", "localhostProfile": "str"},
    "windowsOptions": "any", "seLinuxChangePolicy": "str",
}

HTTP_GET = {"path": "str", "port": "intstr", "host": "str", "scheme": "str",
            "httpHeaders": [{"name": "str", "value": "str"}]}

PROBE = {
    "exec": {"command": ["str"]},
    "httpGet": HTTP_GET,
    "tcpSocket": {"port": "intstr", "host": "str"},
    "grpc": {"port": "int", "service": "str"},
    "initialDelaySeconds": "int", "periodSeconds": "int", "timeoutSeconds": "int",
    "failureThreshold": "int", "successThreshold": "int",
    "terminationGracePeriodSeconds": "int",
}

LIFECYCLE_HANDLER = {"exec": {"command": ["str"]}, "httpGet": HTTP_GET,
                     "tcpSocket": {"port": "intstr", "host": "str"},
                     "sleep": {"seconds": "int"}}

VOLUME_MOUNT = {"name": "str", "mountPath": "str", "subPath": "str", "subPathExpr": "str",
                "readOnly": "bool", "mountPropagation": "str",
                "recursiveReadOnly": "str"}

CONTAINER = {
    "name": "str", "image": "str", "imagePullPolicy": "str",
    "command": ["str"], "args": ["str"], "workingDir": "str",
    "env": [ENV_VAR], "envFrom": [ENV_FROM], "ports": [PORT],
    "resources": RESOURCES, "securityContext": CONTAINER_SECURITY,
    "volumeMounts": [VOLUME_MOUNT],
    "livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE,
    "lifecycle": {"postStart": LIFECYCLE_HANDLER, "preStop": LIFECYCLE_HANDLER,
                  "stopSignal": "str"},
    "stdin": "bool", "stdinOnce": "bool", "tty": "bool",
    "terminationMessagePath": "str", "terminationMessagePolicy": "str",
    "restartPolicy": "str", "volumeDevices": ["any"], "resizePolicy": ["any"],
}

KEY_TO_PATH = {"key": "str", "path": "str", "mode": "int"}

VOLUME = {
    "name": "str",
    "emptyDir": {"medium": "str", "sizeLimit": "quantity"},
    "hostPath": {"path": "str", "type": "str"},
    "configMap": {"name": "str", "items": [KEY_TO_PATH], "defaultMode": "int",
                  "optional": "bool"},
    "secret": {"secretName": "str", "items": [KEY_TO_PATH], "defaultMode": "int",
               "optional": "bool"},
    "persistentVolumeClaim": {"claimName": "str", "readOnly": "bool"},
}

POD_SPEC = {
    "containers": [CONTAINER], "initContainers": [CONTAINER],
    "volumes": [VOLUME], "restartPolicy": "str",
    "terminationGracePeriodSeconds": "int", "activeDeadlineSeconds": "int",
    "hostname": "str", "subdomain": "str", "setHostnameAsFQDN": "bool",
    "hostNetwork": "bool", "hostPID": "bool", "hostIPC": "bool",
    "shareProcessNamespace": "bool", "hostUsers": "bool",
    "dnsPolicy": "str",
    "dnsConfig": {"nameservers": ["str"], "searches": ["str"],
                  "options": [{"name": "str", "value": "str"}]},
    "hostAliases": [{"ip": "str", "hostnames": ["str"]}],
    "securityContext": POD_SECURITY, "runtimeClassName": "str",
    "os": {"name": "str"},
}

# valid Kubernetes that scheduling or the API server acts on, not the node
IGNORED = {
    "nodeSelector", "nodeName", "affinity", "tolerations", "schedulerName",
    "priority", "priorityClassName", "serviceAccountName", "serviceAccount",
    "automountServiceAccountToken", "enableServiceLinks", "preemptionPolicy",
    "topologySpreadConstraints", "readinessGates", "imagePullSecrets", "overhead",
    "schedulingGates", "resourceClaims", "ephemeralContainers", "resources",
}
POD_SPEC.update({name: "any" for name in IGNORED})

POD = {"apiVersion": "str", "kind": "str", "metadata": OBJECT_META, "spec": POD_SPEC,
       "status": "any"}

PVC = {"apiVersion": "str", "kind": "str", "metadata": OBJECT_META, "status": "any",
       "spec": {"accessModes": ["str"], "storageClassName": "str", "volumeMode": "str",
                "resources": RESOURCES, "volumeName": "str", "selector": "any",
                "dataSource": "any", "dataSourceRef": "any",
                "volumeAttributesClassName": "str"}}

CONFIG_MAP = {"apiVersion": "str", "kind": "str", "metadata": OBJECT_META,
              "data": STRMAP, "binaryData": STRMAP, "immutable": "bool"}

SECRET = {"apiVersion": "str", "kind": "str", "metadata": OBJECT_META,
          "data": STRMAP, "stringData": STRMAP, "type": "str", "immutable": "bool"}

#: kind -> (apiVersion, schema)
KINDS = {
    "Pod": ("v1", POD),
    "PersistentVolumeClaim": ("v1", PVC),
    "ConfigMap": ("v1", CONFIG_MAP),
    "Secret": ("v1", SECRET),
}
