"""The canonical content of a rule-set version, its SHA-256, and its archive.

A version is handled as an in-memory map of relative POSIX paths to bytes, the
same whether it was read from a folder (links resolved), extracted from an
uploaded archive (links refused) or read back from the database. What is
validated is therefore exactly what is hashed, stored and served.

Canonical order is the sorted list of paths (by their UTF-8 bytes); the hash is
SHA-256 over ``path NUL length NUL bytes`` for each file in that order. Hidden
files and folders (names starting with ``.``) and ``__pycache__`` are not part
of a version: editors and archivers leave them behind, and they must not change
the hash.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import stat
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Limits for uploaded archives: enough for a rule set with hundreds of example
# patients, small enough that a hostile upload can't exhaust memory or disk.
MAX_ARCHIVE_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_FILES = 5000


class ContentError(ValueError):
    """The folder or archive can't be read as a rule-set version (bad path, link, size)."""


def _is_ignored(name: str) -> bool:
    return name.startswith(".") or name in ("__pycache__", "__MACOSX")


def check_relative_path(path: str) -> str:
    """Return ``path`` normalised, or raise :class:`ContentError` if it is unsafe.

    Refused: absolute paths, drive letters, backslashes, ``..`` or empty
    components, control characters.
    """
    if not path or "\\" in path or any(ord(ch) < 32 for ch in path):
        raise ContentError(f"unsafe path in archive: {path!r}")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise ContentError(f"absolute path in archive: {path!r}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ContentError(f"path leaving the folder in archive: {path!r}")
    return "/".join(parts)


@dataclass(frozen=True)
class RuleSetContent(Mapping[str, bytes]):
    """An immutable map of relative POSIX path → file bytes, in canonical order.

    ``folder_name`` is the name of the version folder it came from, when there
    was one (a folder on disk, or an archive holding one top-level folder).
    """

    files: tuple[tuple[str, bytes], ...]
    folder_name: str | None = None
    _index: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", dict(self.files))

    @staticmethod
    def from_files(files: Mapping[str, bytes], folder_name: str | None = None) -> RuleSetContent:
        """Build from a path → bytes map; paths are checked and sorted."""
        checked = {check_relative_path(p): b for p, b in files.items()}
        ordered = sorted(checked.items(), key=lambda item: item[0].encode("utf-8"))
        return RuleSetContent(tuple(ordered), folder_name)

    # Mapping protocol -------------------------------------------------------
    def __getitem__(self, path: str) -> bytes:
        return self._index[path]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.files)

    def __len__(self) -> int:
        return len(self.files)

    def __hash__(self) -> int:
        return hash(self.sha256)

    def __repr__(self) -> str:
        return f"RuleSetContent({len(self.files)} files, {self.total_bytes} bytes, folder={self.folder_name!r})"

    # Canonical form ---------------------------------------------------------
    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the canonical content."""
        digest = hashlib.sha256()
        for name, data in self.files:
            digest.update(name.encode("utf-8") + b"\0" + str(len(data)).encode("ascii") + b"\0")
            digest.update(data)
        return digest.hexdigest()

    @property
    def total_bytes(self) -> int:
        return sum(len(data) for _, data in self.files)

    def text(self, path: str) -> str:
        """A file decoded as UTF-8 (a leading BOM is dropped)."""
        return self[path].decode("utf-8-sig")

    def under(self, folder: str) -> list[str]:
        """Paths inside ``folder`` (recursively), in canonical order."""
        prefix = folder.rstrip("/") + "/"
        return [name for name, _ in self.files if name.startswith(prefix)]

    def to_archive(self) -> bytes:
        """A reproducible gzipped tar of the content (fixed times, owners and modes)."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in self.files:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 0
                tar.addfile(info, io.BytesIO(data))
        # gzip with mtime 0 so that the same content always gives the same bytes.
        return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)

    # Readers ----------------------------------------------------------------
    @staticmethod
    def from_folder(path: str | Path) -> RuleSetContent:
        """Read a version folder, following symbolic links (bundled rule sets use
        them to reach ``fhir/``); the content holds the files, not the links."""
        root = Path(path)
        if not root.is_dir():
            raise ContentError(f"not a folder: {root}")
        files: dict[str, bytes] = {}
        total = 0

        def walk(folder: Path, rel: str, seen: frozenset[str]) -> None:
            nonlocal total
            real = os.path.realpath(folder)
            if real in seen:
                raise ContentError(f"symbolic link loop at {rel or '.'}")
            seen = seen | {real}
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if _is_ignored(entry.name):
                    continue
                child_rel = f"{rel}/{entry.name}" if rel else entry.name
                target = Path(entry.path)
                if not target.exists():
                    raise ContentError(f"broken symbolic link: {child_rel}")
                if target.is_dir():
                    walk(target, child_rel, seen)
                elif target.is_file():
                    data = target.read_bytes()
                    total += len(data)
                    if len(data) > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
                        raise ContentError(f"rule set too large at {child_rel}")
                    files[child_rel] = data

        walk(root, "", frozenset())
        return RuleSetContent.from_files(files, folder_name=root.resolve().name)

    @staticmethod
    def from_archive(data: bytes) -> RuleSetContent:
        """Extract an uploaded zip or gzipped tar safely, in memory.

        Refused: links of any kind, device files, absolute paths, ``..``,
        more than :data:`MAX_FILES` files, a file over :data:`MAX_FILE_BYTES`,
        more than :data:`MAX_TOTAL_BYTES` in all (counted while decompressing,
        so a compression bomb stops early). An archive holding a single
        top-level folder is unwrapped; that folder's name is kept.
        """
        if len(data) > MAX_ARCHIVE_BYTES:
            raise ContentError(f"archive larger than {MAX_ARCHIVE_BYTES} bytes")
        if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
            files = _read_zip(data)
        elif data[:2] == b"\x1f\x8b":
            files = _read_tar_gz(data)
        else:
            raise ContentError("not a zip or gzipped tar archive")
        return _unwrap(files)


def _read_limited(stream: io.BufferedIOBase | object, name: str, budget: int) -> bytes:
    """Read at most the allowed bytes from a member stream, refusing more."""
    limit = min(MAX_FILE_BYTES, budget)
    chunk = stream.read(limit + 1)  # type: ignore[attr-defined]
    if len(chunk) > limit:
        raise ContentError(f"file too large in archive: {name}")
    return chunk


def _read_zip(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ContentError(f"not a valid zip archive: {exc}") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_FILES * 2:
            raise ContentError("too many entries in archive")
        for info in members:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ContentError(f"symbolic link in archive: {info.filename}")
            if info.is_dir():
                check_relative_path(info.filename)
                continue
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise ContentError(f"special file in archive: {info.filename}")
            name = check_relative_path(info.filename)
            if any(_is_ignored(part) for part in name.split("/")):
                continue
            if info.file_size > MAX_FILE_BYTES:
                raise ContentError(f"file too large in archive: {name}")
            try:
                with archive.open(info) as member:
                    content = _read_limited(member, name, MAX_TOTAL_BYTES - total)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:
                raise ContentError(f"cannot read {name} from archive: {exc}") from None
            total += len(content)
            if name in files:
                raise ContentError(f"duplicate file in archive: {name}")
            files[name] = content
            if len(files) > MAX_FILES:
                raise ContentError("too many files in archive")
    return files


def _read_tar_gz(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            # Iterate lazily: members are parsed as we go, so an archive with a
            # huge number of entries stops at the limit.
            for info in tar:
                count += 1
                if count > MAX_FILES * 2:
                    raise ContentError("too many entries in archive")
                if info.issym() or info.islnk():
                    raise ContentError(f"link in archive: {info.name}")
                if info.isdir():
                    check_relative_path(info.name)
                    continue
                if not info.isfile():
                    raise ContentError(f"special file in archive: {info.name}")
                name = check_relative_path(info.name)
                if any(_is_ignored(part) for part in name.split("/")):
                    continue
                if info.size > MAX_FILE_BYTES or total + info.size > MAX_TOTAL_BYTES:
                    raise ContentError(f"file too large in archive: {name}")
                member = tar.extractfile(info)
                if member is None:
                    raise ContentError(f"cannot read {name} from archive")
                content = _read_limited(member, name, MAX_TOTAL_BYTES - total)
                total += len(content)
                if name in files:
                    raise ContentError(f"duplicate file in archive: {name}")
                files[name] = content
                if len(files) > MAX_FILES:
                    raise ContentError("too many files in archive")
    except (tarfile.TarError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ContentError(f"not a valid gzipped tar archive: {exc}") from None
    return files


def _unwrap(files: dict[str, bytes]) -> RuleSetContent:
    if not files:
        raise ContentError("archive is empty")
    tops = {name.split("/", 1)[0] for name in files}
    if "manifest.yaml" not in files and len(tops) == 1 and all("/" in name for name in files):
        (top,) = tops
        inner = {name.split("/", 1)[1]: data for name, data in files.items()}
        return RuleSetContent.from_files(inner, folder_name=top)
    return RuleSetContent.from_files(files)


def resolve_relative(base_file: str, ref: str) -> str:
    """Resolve ``ref`` relative to the folder of ``base_file`` inside the content.

    Raises :class:`ContentError` if the result would leave the version folder.
    """
    if ref.startswith("/"):
        raise ContentError(f"absolute path not allowed: {ref}")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), ref))
    if joined.startswith("../") or joined == "..":
        raise ContentError(f"path leaves the rule-set folder: {ref}")
    return joined
