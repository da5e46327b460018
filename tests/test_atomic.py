"""Atomic writes (blobs_transfer.atomic): the file whole or the old one, never a temporary left behind, a failure as
one line."""

import errno
import os
import zipfile

import pytest

from blobs_transfer import atomic
from blobs_transfer.errors import ResultsError


def test_an_atomic_write_leaves_the_file_and_nothing_else(tmp_path):
    path = tmp_path / "a.bin"
    atomic.write_bytes(path, b"\x00one")
    atomic.write_text(tmp_path / "b.txt", "twó\n")
    assert path.read_bytes() == b"\x00one" and (tmp_path / "b.txt").read_bytes() == "twó\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt"]  # no temporary file left


def test_an_atomic_write_replaces_the_file_whole(tmp_path):
    """A reader that opened the file before the write still reads the whole old file: the new one is another
    file renamed over the name, never the old one rewritten in place."""
    path = tmp_path / "scores.csv"
    path.write_text("old\n")
    inode = path.stat().st_ino
    with open(path) as reader:
        atomic.write_text(path, "new\n")
        assert reader.read() == "old\n"
    assert path.read_text() == "new\n" and path.stat().st_ino != inode
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_a_failed_write_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    path.write_text("old\n")

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(ResultsError) as info:
        atomic.write_text(path, "new\n")
    assert str(info.value) == f"cannot write {path}: No space left on device"
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_writer_that_needs_a_name_writes_under_a_temporary_one(tmp_path):
    """`replacing` hands the writer a temporary name next to the file and renames it into place at the end."""
    path = tmp_path / "model.keras"
    with atomic.replacing(path, suffix=".keras") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".keras") and tmp != path
        with zipfile.ZipFile(tmp, "w") as archive:
            archive.writestr("config.json", "{}")
        assert not path.exists()
    assert zipfile.ZipFile(path).namelist() == ["config.json"] and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_writer_that_fails_leaves_nothing_and_says_so_in_one_line(tmp_path):
    path = tmp_path / "model.keras"
    with pytest.raises(ResultsError) as info, atomic.replacing(path) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == f"cannot write {path}: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_another_failure_passes_through_and_leaves_nothing(tmp_path):
    with pytest.raises(KeyError), atomic.replacing(tmp_path / "x") as tmp:
        tmp.write_bytes(b"half")
        raise KeyError("not a disk's")
    assert list(tmp_path.iterdir()) == []
