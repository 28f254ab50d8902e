from hull.testing import leaks


def test_leaked_names_only_new_objects():
    before = leaks.Snapshot(mounts={"/a"}, links={"lo"})
    after = leaks.Snapshot(mounts={"/a", "/b"}, links={"lo"}, netns={"x"})
    assert leaks.leaked(before, after) == {"mounts": ["/b"], "netns": ["x"]}
    assert leaks.leaked(after, after) == {}
