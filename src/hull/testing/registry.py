"""A real registry for tests: Debian's ``docker-registry`` on 127.0.0.1.

``RegistryServer`` starts the distribution registry on a free loopback port,
plain HTTP or TLS (with a CA the kit makes), optionally behind htpasswd
basic auth or token auth served by ``TokenServer`` (a small bearer-token
server in Python that signs RS256 JWTs with an openssl-made key). ``stop()``
ends the process by its PID and removes the kit's files.

``build_image`` makes a small multi-layer OCI image with umoci from a
hull.testing.busybox root filesystem; ``push_image`` copies it into a
registry with skopeo; ``build_index`` adds a multi-platform index.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from hull.testing import busybox

REGISTRY_BIN = "docker-registry"
START_TIMEOUT = 20.0


def free_port(address: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({proc.returncode}): "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc


# --- certificates -------------------------------------------------------

@dataclass
class CertificateAuthority:
    """A CA and one server certificate for 127.0.0.1, localhost and ::1."""

    directory: Path
    ca_cert: Path = field(init=False)
    ca_key: Path = field(init=False)
    server_cert: Path = field(init=False)
    server_key: Path = field(init=False)

    def __post_init__(self):
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        self.ca_cert, self.ca_key = d / "ca.crt", d / "ca.key"
        self.server_cert, self.server_key = d / "server.crt", d / "server.key"
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
              "-subj", "/CN=hull test CA", "-keyout", str(self.ca_key), "-out", str(self.ca_cert),
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        csr = d / "server.csr"
        _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
              "-keyout", str(self.server_key), "-out", str(csr)])
        ext = d / "server.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost,IP:::1\n"
                       "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        _run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(self.ca_cert),
              "-CAkey", str(self.ca_key), "-CAcreateserial", "-days", "2",
              "-extfile", str(ext), "-out", str(self.server_cert)])


# --- servers in threads ----------------------------------------------------

class _LoopbackServer:
    """An http.server on 127.0.0.1:<free port>, served from a daemon thread."""

    _server: ThreadingHTTPServer | None = None

    def _serve(self, handler: type, name: str) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name=name).start()

    @property
    def host(self) -> str:
        assert self._server is not None, "not started"
        return f"127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --- token server --------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer(_LoopbackServer):
    """The distribution token spec's server: GET with basic auth, POST OAuth2.

    ``users`` maps user -> password. Authenticated users get every action
    they ask for; anonymous callers get ``pull`` on ``anonymous_pull``
    repositories only. ``requests`` records (method, params, user) per call.
    """

    def __init__(self, directory: Path, users: dict[str, str] | None = None, *,
                 anonymous_pull: tuple[str, ...] = (), service: str = "hull-test-registry",
                 issuer: str = "hull-test-issuer", lifetime: int = 300):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.users = dict(users or {})
        self.anonymous_pull = anonymous_pull
        self.service, self.issuer, self.lifetime = service, issuer, lifetime
        self.key = self.directory / "token.key"
        self.cert = self.directory / "token.crt"
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
              "-subj", "/CN=hull test token issuer", "-keyout", str(self.key),
              "-out", str(self.cert)])
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             capture_output=True, check=True).stdout
        self._x5c = base64.b64encode(der).decode()
        self.refresh_tokens: dict[str, str] = {}
        self.requests: list[tuple[str, dict, str]] = []
        self._lock = threading.Lock()

    @property
    def realm(self) -> str:
        return f"http://{self.host}/token"

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = (_b64url(json.dumps(header).encode()) + "." +
                         _b64url(json.dumps(claims).encode()))
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), capture_output=True,
                                   check=True).stdout
        return signing_input + "." + _b64url(signature)

    def grant(self, user: str, scopes: list[str]) -> list[dict]:
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
            if not user:
                actions = [a for a in actions if a == "pull" and name in self.anonymous_pull]
            if actions:
                access.append({"type": "repository", "name": name, "actions": actions})
        return access

    def issue(self, user: str, scopes: list[str]) -> dict:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user, "aud": self.service, "iat": now,
                  "nbf": now - 10, "exp": now + self.lifetime, "jti": uuid.uuid4().hex,
                  "access": self.grant(user, scopes)}
        token = self.sign(claims)
        return {"token": token, "access_token": token, "expires_in": self.lifetime,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}

    def start(self) -> "TokenServer":
        kit = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, doc: dict) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                params = parse_qs(urlsplit(self.path).query)
                user = ""
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if kit.users.get(name) != password:
                        kit._record("GET", params, name + " (bad password)")
                        return self._answer(401, {"details": "incorrect username or password"})
                    user = name
                kit._record("GET", params, user)
                answer = kit.issue(user, params.get("scope", []))
                if user and params.get("offline_token") == ["true"]:
                    answer["refresh_token"] = kit._new_refresh(user)
                self._answer(200, answer)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                grant = form.get("grant_type", [""])[0]
                scopes = " ".join(form.get("scope", [])).split()
                if grant == "refresh_token":
                    user = kit.refresh_tokens.get(form.get("refresh_token", [""])[0])
                elif grant == "password":
                    name = form.get("username", [""])[0]
                    ok = kit.users.get(name) == form.get("password", [""])[0]
                    user = name if ok else None
                else:
                    user = None
                kit._record("POST", form, user or "(refused)")
                if not user:
                    return self._answer(401, {"error": "invalid_grant",
                                              "error_description": "refresh token not valid"})
                answer = kit.issue(user, scopes)
                answer["refresh_token"] = kit._new_refresh(user)
                self._answer(200, answer)

        self._serve(Handler, "hull-test-token-server")
        return self

    def _new_refresh(self, user: str) -> str:
        token = uuid.uuid4().hex
        with self._lock:
            self.refresh_tokens[token] = user
        return token

    def _record(self, method: str, params: dict, user: str) -> None:
        with self._lock:
            self.requests.append((method, params, user))



# --- the registry --------------------------------------------------------

class RegistryServer:
    """``docker-registry serve`` on 127.0.0.1:<free port>, stopped by PID."""

    def __init__(self, *, tls: bool = False, users: dict[str, str] | None = None,
                 token: TokenServer | None = None, workdir: str | os.PathLike | None = None,
                 address: str = "127.0.0.1"):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="hull-registry-"))
        self._own_workdir = workdir is None
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tls, self.users, self.token = tls, dict(users or {}), token
        self.address = address  # 127.0.0.1 or ::1
        self.port = 0
        self.ca: CertificateAuthority | None = None
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{address}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def certs_dir(self) -> Path:
        """A certs.d tree naming this registry's CA (``<host:port>/ca.crt``)."""
        return self.workdir / "certs.d"

    @property
    def skopeo_cert_dir(self) -> Path:
        return self.certs_dir / self.host

    def _config(self) -> dict:
        http: dict = {"addr": self.host, "secret": uuid.uuid4().hex,
                      "headers": {"X-Content-Type-Options": ["nosniff"]}}
        if self.ca:
            http["tls"] = {"certificate": str(self.ca.server_cert), "key": str(self.ca.server_key)}
        config: dict = {
            "version": "0.1",
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.workdir / "storage")},
                        "delete": {"enabled": True},
                        "maintenance": {"uploadpurging": {"enabled": False}}},
            "http": http,
        }
        if self.token:
            config["auth"] = {"token": {"realm": self.token.realm, "service": self.token.service,
                                        "issuer": self.token.issuer,
                                        "rootcertbundle": str(self.token.cert)}}
        elif self.users:
            htpasswd = self.workdir / "htpasswd"
            htpasswd.unlink(missing_ok=True)
            for user, password in self.users.items():
                _run(["htpasswd", "-Bb", *(["-c"] if not htpasswd.exists() else []),
                      str(htpasswd), user, password])
            config["auth"] = {"htpasswd": {"realm": "hull-test", "path": str(htpasswd)}}
        return config

    def start(self) -> "RegistryServer":
        if self.tls and self.ca is None:
            self.ca = CertificateAuthority(self.workdir / "ca")
        for _ in range(5):
            self.port = free_port(self.address)
            if self.ca:
                self.skopeo_cert_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(self.ca.ca_cert, self.skopeo_cert_dir / "ca.crt")
            config = self.workdir / "config.yml"
            config.write_text(json.dumps(self._config(), indent=1))  # JSON is YAML
            log = open(self.workdir / "registry.log", "ab")
            self.process = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
            log.close()
            if self._wait_ready():
                return self
            self._end_process()
            if self.ca:
                shutil.rmtree(self.skopeo_cert_dir, ignore_errors=True)
        raise RuntimeError(f"docker-registry did not start: "
                           f"{(self.workdir / 'registry.log').read_text()[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # port taken between free_port() and bind, most likely
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def _end_process(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        self._end_process()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.workdir / "registry.log").read_text()
        except FileNotFoundError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- images --------------------------------------------------------------

def _umoci(*args: str) -> None:
    rootless = ["--rootless"] if os.geteuid() != 0 and args[0] in ("unpack",) else []
    _run(["umoci", args[0], *rootless, *args[1:]])


def build_image(layout: str | os.PathLike, tag: str = "latest", *, arch: str = "amd64",
                big_layer_bytes: int = 0, marker: str = "") -> str:
    """Build a busybox image of 2-3 layers in the OCI layout ``layout``; returns its tag.

    Layer 1 is the busybox root filesystem; layer 2 adds ``/etc/hull-image``
    (naming ``tag``, ``arch`` and ``marker``) and removes ``/etc/hostname``
    (a whiteout); with ``big_layer_bytes`` a third layer adds that many random
    bytes at ``/data/blob.bin``, big enough to cut a download in the middle.
    """
    layout = Path(layout)
    if not (layout / "index.json").exists():
        _umoci("init", "--layout", str(layout))
    image = f"{layout}:{tag}"
    _umoci("new", "--image", image)
    bundle = Path(tempfile.mkdtemp(prefix="hull-registry-bundle-"))
    try:
        shutil.rmtree(bundle)
        _umoci("unpack", "--image", image, str(bundle))
        (bundle / "rootfs").rmdir()
        busybox.make_rootfs(bundle / "rootfs")
        _umoci("repack", "--refresh-bundle", "--image", image, str(bundle))
        rootfs = bundle / "rootfs"
        (rootfs / "etc/hull-image").write_text(f"tag={tag}\narch={arch}\nmarker={marker}\n")
        (rootfs / "etc/hostname").unlink()
        _umoci("repack", "--refresh-bundle", "--image", image, str(bundle))
        if big_layer_bytes:
            (rootfs / "data").mkdir()
            (rootfs / "data/blob.bin").write_bytes(os.urandom(big_layer_bytes))
            _umoci("repack", "--refresh-bundle", "--image", image, str(bundle))
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
    _run(["umoci", "config", "--image", image, "--os", "linux", "--architecture", arch,
          "--config.cmd", "/bin/sh", "--config.env", f"HULL_IMAGE={tag}"])
    return tag


def _layout_blob(layout: Path, digest: str) -> Path:
    algorithm, hexpart = digest.split(":", 1)
    return layout / "blobs" / algorithm / hexpart


def build_index(layout: str | os.PathLike, tag: str, platforms: dict[str, str]) -> str:
    """Add an OCI index tagged ``tag`` over images ``{platform: image tag}``; returns its digest."""
    layout = Path(layout)
    top = json.loads((layout / "index.json").read_text())
    by_tag = {m.get("annotations", {}).get("org.opencontainers.image.ref.name"): m
              for m in top["manifests"]}
    entries = []
    for platform, image_tag in platforms.items():
        os_name, arch, *variant = platform.split("/")
        desc = {k: by_tag[image_tag][k] for k in ("mediaType", "digest", "size")}
        desc["platform"] = {"os": os_name, "architecture": arch,
                            **({"variant": variant[0]} if variant else {})}
        entries.append(desc)
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries}).encode()
    digest = "sha256:" + hashlib.sha256(index).hexdigest()
    _layout_blob(layout, digest).write_bytes(index)
    top["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                             "digest": digest, "size": len(index),
                             "annotations": {"org.opencontainers.image.ref.name": tag}})
    (layout / "index.json").write_text(json.dumps(top))
    return digest


def push_image(layout: str | os.PathLike, tag: str, destination: str, *,
               registry: RegistryServer | None = None, creds: str | None = None,
               all_platforms: bool = False, docker_format: bool = False) -> None:
    """``skopeo copy oci:LAYOUT:TAG docker://DESTINATION`` into a kit registry.

    ``docker_format`` stores a Docker schema 2 manifest instead of an OCI one.
    """
    args = ["skopeo", "copy", "--quiet", "--insecure-policy"]
    if docker_format:
        args += ["--format", "v2s2"]
    if all_platforms:
        args.append("--all")
    if registry is not None and registry.tls:
        args += ["--dest-cert-dir", str(registry.skopeo_cert_dir)]
    elif registry is not None:
        args.append("--dest-tls-verify=false")
    if creds:
        args += ["--dest-creds", creds]
    args += [f"oci:{layout}:{tag}", f"docker://{destination}"]
    _run(args, timeout=300)


def layout_manifest(layout: str | os.PathLike, tag: str) -> tuple[dict, bytes]:
    """The (descriptor, bytes) of the manifest or index tagged ``tag`` in a layout."""
    layout = Path(layout)
    top = json.loads((layout / "index.json").read_text())
    for desc in top["manifests"]:
        if desc.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return desc, _layout_blob(layout, desc["digest"]).read_bytes()
    raise KeyError(tag)


def layout_blob(layout: str | os.PathLike, digest: str) -> bytes:
    return _layout_blob(Path(layout), digest).read_bytes()


# --- a proxy that misbehaves on purpose -----------------------------------

@dataclass
class Fault:
    path_contains: str
    count: int = 1                 # how many matching requests it applies to
    status: int | None = None      # answer this status instead of forwarding
    cut_after: int | None = None   # forward, but drop the connection after this many body bytes
    tamper: bool = False           # flip the last byte of the body (a corrupt manifest)


class FaultProxy(_LoopbackServer):
    """A plain-HTTP reverse proxy in front of a kit registry, injecting faults.

    ``add(Fault(...))`` queues a fault for requests whose path contains a
    string; ``accept_override`` replaces the Accept header (to make the
    registry answer in Docker schema 1); ``requests`` records (method, path,
    headers) of every request seen.
    """

    def __init__(self, upstream: RegistryServer):
        self.upstream = upstream
        self.faults: list[Fault] = []
        self.accept_override: str | None = None
        self.requests: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path_contains in path and fault.count > 0:
                    fault.count -= 1
                    return fault
        return None

    def start(self) -> "FaultProxy":
        import http.client
        kit = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                with kit._lock:
                    kit.requests.append((self.command, self.path, dict(headers)))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                fault = kit._take_fault(self.path)
                if fault and fault.status:
                    payload = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
                    self.send_response(fault.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if kit.accept_override and "/manifests/" in self.path:
                    headers["Accept"] = kit.accept_override
                conn = http.client.HTTPConnection(kit.upstream.host, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    self._relay(resp, fault)
                finally:
                    conn.close()

            def _relay(self, resp, fault):
                data = resp.read() if (fault and fault.tamper) else None
                if data:
                    data = data[:-1] + bytes([data[-1] ^ 0x20])
                self.send_response(resp.status, resp.reason)
                for key, value in resp.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(key, value)
                length = len(data) if data is not None else resp.getheader("Content-Length")
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if data is not None:
                    self.wfile.write(data)
                    return
                sent, limit = 0, fault.cut_after if fault else None
                while True:
                    chunk = resp.read(64 << 10)
                    if not chunk:
                        break
                    if limit is not None and sent + len(chunk) >= limit:
                        self.wfile.write(chunk[: limit - sent])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(chunk)
                    sent += len(chunk)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        self._serve(Handler, "hull-test-fault-proxy")
        return self



# --- a forward proxy --------------------------------------------------------

class ForwardProxy(_LoopbackServer):
    """An HTTP forward proxy on 127.0.0.1: CONNECT tunnels and absolute-URI requests.

    Forwards only to loopback addresses. ``requests`` records (method, target,
    Proxy-Authorization header) for each request it sees.
    """

    def __init__(self):
        self.requests: list[tuple[str, str, str | None]] = []


    def start(self) -> "ForwardProxy":
        import http.client
        import select
        kit = self

        def loopback(host: str) -> bool:
            return host in ("127.0.0.1", "localhost", "::1")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_CONNECT(self):
                kit.requests.append(("CONNECT", self.path, self.headers.get("Proxy-Authorization")))
                host, _, port = self.path.rpartition(":")
                if not loopback(host.strip("[]")):
                    self.send_error(403, "loopback only")
                    return
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
                self.send_response(200, "Connection established")
                self.end_headers()
                sockets = [self.connection, upstream]
                try:
                    while True:
                        ready, _, _ = select.select(sockets, [], [], 30)
                        if not ready:
                            break
                        for s in ready:
                            data = s.recv(1 << 16)
                            if not data:
                                return
                            (upstream if s is self.connection else self.connection).sendall(data)
                finally:
                    upstream.close()
                    self.close_connection = True

            def _forward(self):
                kit.requests.append((self.command, self.path,
                                     self.headers.get("Proxy-Authorization")))
                target = urlsplit(self.path)
                if not target.hostname or not loopback(target.hostname):
                    self.send_error(403, "loopback only")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("proxy-authorization", "connection")}
                conn = http.client.HTTPConnection(target.netloc, timeout=30)
                try:
                    path = target.path + (f"?{target.query}" if target.query else "")
                    conn.request(self.command, path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    for key, value in resp.getheaders():
                        if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _forward

        self._serve(Handler, "hull-test-forward-proxy")
        return self

