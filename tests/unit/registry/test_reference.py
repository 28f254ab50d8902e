"""Reference parsing and normalisation, cases after docker/distribution's reference tests."""

from __future__ import annotations

import pytest

from hull.errors import InvalidArgument
from hull.registry.reference import Reference, parse, parse_name

D = "sha256:" + "f" * 64

VALID = [
    # text, domain, path, tag, digest
    ("busybox", "docker.io", "library/busybox", "latest", None),
    ("test_com", "docker.io", "library/test_com", "latest", None),
    ("test.com:tag", "docker.io", "library/test.com", "tag", None),
    ("test.com:5000", "docker.io", "library/test.com", "5000", None),
    ("test.com/repo:tag", "test.com", "repo", "tag", None),
    ("test:5000/repo", "test:5000", "repo", "latest", None),
    ("test:5000/repo:tag", "test:5000", "repo", "tag", None),
    (f"test:5000/repo@{D}", "test:5000", "repo", None, D),
    (f"test:5000/repo:tag@{D}", "test:5000", "repo", "tag", D),
    ("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", None),
    ("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", "latest", None),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
     "some-long-tag", None),
    ("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
     "test.example.com", None),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", None),
    ("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", None),
    ("foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", None),
    ("192.168.1.1/library/debian", "192.168.1.1", "library/debian", "latest", None),
    ("192.168.1.1:5000/debian", "192.168.1.1:5000", "debian", "latest", None),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", "latest", None),
    ("[2001:db8::1]/repo:tag", "[2001:db8::1]", "repo", "tag", None),
    ("localhost/repo", "localhost", "repo", "latest", None),
    ("localhost:5000/a/b/c:1.0", "localhost:5000", "a/b/c", "1.0", None),
    ("docker.io/busybox", "docker.io", "library/busybox", "latest", None),
    ("docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", None),
    ("index.docker.io/library/debian", "docker.io", "library/debian", "latest", None),
    ("index.docker.io/debian", "docker.io", "library/debian", "latest", None),
    ("docker/docker", "docker.io", "docker/docker", "latest", None),
    ("a/a__b", "docker.io", "a/a__b", "latest", None),
    ("a/a--b---c", "docker.io", "a/a--b---c", "latest", None),
    ("a/a.b_c-d", "docker.io", "a/a.b_c-d", "latest", None),
    ("Example.com/repo", "Example.com", "repo", "latest", None),
    (f"busybox@{D}", "docker.io", "library/busybox", None, D),
    ("repo:" + "t" * 128, "docker.io", "library/repo", "t" * 128, None),
    ("a" * 200 + "/b", "docker.io", "a" * 200 + "/b", "latest", None),
]

INVALID = [
    ("", "empty"),
    (":justtag", "repository name is empty"),
    (f"@{D}", "repository name is empty"),
    ("repo@sha256:" + "f" * 63, "invalid sha256 digest"),
    ("repo@sha256:" + "F" * 64, "lowercase hex"),
    ("validname@invalid:" + "e" * 64, "unsupported digest algorithm"),
    ("repo@sha256", "invalid digest format"),
    ("Uppercase:tag", "must be lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "must be lowercase"),
    ("aa/asdf$$^/aa", "invalid reference format"),
    ("a^a", "invalid reference format"),
    ("a_-a", "invalid reference format"),
    ("-foo", "invalid reference format"),
    ("foo-", "invalid reference format"),
    ("foo/-bar", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("repo:" + "t" * 129, "invalid reference format"),
    ("repo:-tag", "invalid reference format"),
    ("f" * 64, "64-byte hexadecimal"),
    ("[fe80::1%eth0]:5000/repo", "invalid"),
    ("[2001:db8::1]", "invalid reference format"),
    ("a:b:c", "invalid reference format"),
    ("-bad.example.com/repo", "invalid registry host"),
    ("a" * 256 + "/b", "longer than 255"),
]


@pytest.mark.parametrize("text,domain,path,tag,digest", VALID)
def test_valid(text, domain, path, tag, digest):
    ref = parse(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert parse(str(ref)) == ref  # the normalised form parses back to itself


@pytest.mark.parametrize("text,why", INVALID)
def test_invalid_names_the_text_and_why(text, why):
    with pytest.raises(InvalidArgument) as caught:
        parse(text)
    assert f"invalid image reference {text!r}" in str(caught.value)
    assert why in str(caught.value)


@pytest.mark.parametrize("text,full,familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/foo/bar:1", "docker.io/foo/bar:1", "foo/bar:1"),
    ("quay.io/a/b:2", "quay.io/a/b:2", "quay.io/a/b:2"),
    (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}", f"busybox:1@{D}"),
    ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
])
def test_string_forms(text, full, familiar):
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar


def test_name_and_object():
    ref = parse(f"localhost:5000/x:1@{D}")
    assert ref.name == "localhost:5000/x"
    assert ref.object == D  # a digest wins over the tag when asking the registry
    assert parse("localhost:5000/x:1").object == "1"


def test_reference_is_frozen_and_hashable():
    ref = parse("busybox")
    assert {ref: 1}[Reference("docker.io", "library/busybox", "latest", None)] == 1
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]


def test_parse_name_refuses_tags():
    assert parse_name("busybox") == ("docker.io", "library/busybox")
    with pytest.raises(InvalidArgument, match="takes no tag"):
        parse_name("busybox:1")
