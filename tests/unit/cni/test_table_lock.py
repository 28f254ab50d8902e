"""nft.TableLock: the lock file goes with the table, without the flock+unlink race."""

import fcntl
import os
import threading

import pytest

from hull.cni import nft


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(nft, "LOCK_DIR", str(tmp_path))
    return tmp_path


def held_by_someone(path: str) -> bool:
    """Whether a fresh open of ``path`` finds its flock taken (what the next writer sees)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_remove_leaves_no_file_and_the_lock_can_be_taken_again(lock_dir):
    with nft.TableLock("ip", "t") as lock:
        assert held_by_someone(lock.path)
        lock.remove()
        lock.remove()   # already gone: fine
    assert os.listdir(lock_dir) == []
    with nft.TableLock("ip", "t") as again:
        assert held_by_someone(again.path)
    assert os.listdir(lock_dir) == ["ip-t.lock"]


def test_a_waiter_on_the_removed_file_takes_the_lock_others_find(lock_dir, monkeypatch):
    """B opens the file, A removes it and releases; B must not end up holding the
    flock of the unlinked inode while a third writer locks a new file freely."""
    real_flock = fcntl.flock
    b_opened, b_holds, b_may_leave = threading.Event(), threading.Event(), threading.Event()

    def flock(fd, op):
        if threading.current_thread().name == "B":
            b_opened.set()   # B has its fd on the current file now
        return real_flock(fd, op)
    monkeypatch.setattr(fcntl, "flock", flock)

    def writer_b():
        with nft.TableLock("ip", "t"):
            b_holds.set()
            b_may_leave.wait(30)

    a = nft.TableLock("ip", "t").__enter__()
    b = threading.Thread(target=writer_b, name="B")
    b.start()
    try:
        assert b_opened.wait(30)
        a.remove()
        a.__exit__(None, None, None)
        assert b_holds.wait(30)
        assert os.listdir(lock_dir) == ["ip-t.lock"]
        assert held_by_someone(a.path), "B holds a lock nobody else can find"
    finally:
        b_may_leave.set()
        b.join(30)
    assert not held_by_someone(a.path)
