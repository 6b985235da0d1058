"""Canonical content, its hash, and safe extraction of uploaded archives."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from cds_hooks.rulesets import content as content_module
from cds_hooks.rulesets.content import ContentError, RuleSetContent


def make_zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, target)
    return buffer.getvalue()


def make_tar(entries: dict[str, bytes], *, symlink: str | None = None, hardlink: str | None = None,
             fifo: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind in ((symlink, tarfile.SYMTYPE), (hardlink, tarfile.LNKTYPE), (fifo, tarfile.FIFOTYPE)):
            if name:
                info = tarfile.TarInfo(name)
                info.type = kind
                info.linkname = "/etc/passwd"
                tar.addfile(info)
    return buffer.getvalue()


def test_hash_is_over_path_length_and_bytes_in_sorted_order() -> None:
    content = RuleSetContent.from_files({"b.txt": b"two", "a/x.txt": b"one"})
    expected = hashlib.sha256(b"a/x.txt\x003\x00one" + b"b.txt\x003\x00two").hexdigest()
    assert content.sha256 == expected
    assert list(content) == ["a/x.txt", "b.txt"]


def test_folder_reading_follows_links_and_ignores_hidden_files(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "vs.json").write_text("{}")
    version = tmp_path / "rules" / "x" / "1.0.0"
    version.mkdir(parents=True)
    (version / "manifest.yaml").write_text("id: x\n")
    (version / ".DS_Store").write_text("junk")
    (version / "__pycache__").mkdir()
    (version / "__pycache__" / "a.pyc").write_bytes(b"junk")
    os.symlink(shared, version / "valuesets")
    content = RuleSetContent.from_folder(version)
    assert list(content) == ["manifest.yaml", "valuesets/vs.json"]
    assert content.folder_name == "1.0.0"
    # The same files without links give the same hash.
    copy = RuleSetContent.from_files({"manifest.yaml": b"id: x\n", "valuesets/vs.json": b"{}"})
    assert copy.sha256 == content.sha256


def test_broken_link_and_loop_are_errors(tmp_path: Path) -> None:
    folder = tmp_path / "v"
    folder.mkdir()
    os.symlink(tmp_path / "missing", folder / "gone")
    with pytest.raises(ContentError, match="broken"):
        RuleSetContent.from_folder(folder)
    os.unlink(folder / "gone")
    os.symlink(folder, folder / "loop")
    with pytest.raises(ContentError, match="loop"):
        RuleSetContent.from_folder(folder)


def test_archive_round_trip_is_reproducible() -> None:
    content = RuleSetContent.from_files({"manifest.yaml": b"id: x\n", "tests/a.yaml": b"cases: []\n"})
    archive = content.to_archive()
    assert archive == content.to_archive()
    again = RuleSetContent.from_archive(archive)
    assert again.sha256 == content.sha256


def test_single_top_folder_is_unwrapped_and_named() -> None:
    data = make_zip({"1.2.0/manifest.yaml": b"a", "1.2.0/x.cql": b"b", "__MACOSX/._x": b"junk"})
    content = RuleSetContent.from_archive(data)
    assert list(content) == ["manifest.yaml", "x.cql"]
    assert content.folder_name == "1.2.0"
    assert RuleSetContent.from_archive(make_tar({"manifest.yaml": b"a"})).folder_name is None


@pytest.mark.parametrize("name", ["/etc/passwd", "../evil", "a/../../evil", "a\\b", "C:/x"])
def test_unsafe_paths_are_refused(name: str) -> None:
    with pytest.raises(ContentError):
        RuleSetContent.from_archive(make_zip({name: b"x"}))
    with pytest.raises(ContentError):
        RuleSetContent.from_archive(make_tar({name: b"x"}))


def test_links_and_special_files_are_refused() -> None:
    with pytest.raises(ContentError, match="link"):
        RuleSetContent.from_archive(make_zip({"manifest.yaml": b"x"}, links={"evil": "/etc/passwd"}))
    with pytest.raises(ContentError, match="link"):
        RuleSetContent.from_archive(make_tar({"manifest.yaml": b"x"}, symlink="evil"))
    with pytest.raises(ContentError, match="link"):
        RuleSetContent.from_archive(make_tar({"manifest.yaml": b"x"}, hardlink="evil"))
    with pytest.raises(ContentError, match="special"):
        RuleSetContent.from_archive(make_tar({"manifest.yaml": b"x"}, fifo="pipe"))


def test_size_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(content_module, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(content_module, "MAX_TOTAL_BYTES", 1500)
    monkeypatch.setattr(content_module, "MAX_FILES", 3)
    # A compression bomb: tiny archive, large file.
    with pytest.raises(ContentError, match="too large"):
        RuleSetContent.from_archive(make_zip({"big": b"\0" * 5000}))
    with pytest.raises(ContentError, match="too large"):
        RuleSetContent.from_archive(make_tar({"big": b"\0" * 5000}))
    with pytest.raises(ContentError, match="too large"):
        RuleSetContent.from_archive(make_tar({"a": b"\0" * 900, "b": b"\0" * 900}))
    with pytest.raises(ContentError, match="too many"):
        RuleSetContent.from_archive(make_zip({f"f{i}": b"x" for i in range(5)}))
    monkeypatch.setattr(content_module, "MAX_ARCHIVE_BYTES", 10)
    with pytest.raises(ContentError, match="larger"):
        RuleSetContent.from_archive(make_zip({"a": b"x"}))


def test_garbage_is_not_an_archive() -> None:
    for data in (b"hello", b"PK\x03\x04garbage", b"\x1f\x8bgarbage", b""):
        with pytest.raises(ContentError):
            RuleSetContent.from_archive(data)
