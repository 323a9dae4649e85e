"""Scan the landing folder: which export files are there, and what content.

A partition key is ``<file name>@<first 12 hex of the content hash>``, so a
file re-uploaded with new content becomes a new partition while an unchanged
file keeps its key. The landing folder is only read: nothing here writes,
moves or deletes in it. Hashes can be cached (keyed by path, size and mtime)
in a JSON file elsewhere, so a nightly scan of large files does not re-read
them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

HASH_BLOCK_BYTES = 1 << 20
KEY_SEPARATOR = "@"
KEY_HASH_CHARS = 12
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".filepart")


@dataclass(frozen=True)
class LandedFile:
    name: str
    path: Path
    size: int
    content_hash: str  # blake2b hex digest of the file's bytes
    partition_key: str  # f"{name}@{content_hash[:12]}"


def scan_landing(
    landing_dir: str | os.PathLike, cache_path: str | os.PathLike | None = None
) -> list[LandedFile]:
    """Every complete, visible file directly in ``landing_dir``, sorted by name.

    Hidden files, partial uploads (``.part``, ``.tmp``...) and Excel lock files
    (``~$...``) are skipped. ``cache_path`` (outside the landing folder) keeps
    hashes between scans; None means no cache.
    """
    landing = Path(landing_dir)
    if not landing.is_dir():
        raise FileNotFoundError(
            f"landing folder {landing} does not exist: create it or fix --landing"
        )
    cache = _HashCache(Path(cache_path) if cache_path else None, landing)
    landed = []
    for entry in sorted(os.scandir(landing), key=lambda e: e.name):
        if not entry.is_file() or is_ignored(entry.name):
            continue
        stat = entry.stat()
        content_hash = cache.get(entry.path, stat) or cache.put(
            entry.path, stat, hash_file(Path(entry.path))
        )
        landed.append(
            LandedFile(
                entry.name,
                Path(entry.path),
                stat.st_size,
                content_hash,
                partition_key(entry.name, content_hash),
            )
        )
    cache.save()
    return landed


def is_ignored(name: str) -> bool:
    lowered = name.lower()
    return name.startswith((".", "~$")) or lowered.endswith(PARTIAL_SUFFIXES)


def hash_file(path: Path) -> str:
    digest = hashlib.blake2b()
    with path.open("rb") as stream:
        while block := stream.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def partition_key(name: str, content_hash: str) -> str:
    return f"{name}{KEY_SEPARATOR}{content_hash[:KEY_HASH_CHARS]}"


def partition_key_file_name(key: str) -> str:
    """``legacy.csv@0123abcd4567`` -> ``legacy.csv`` (file names may hold ``@`` themselves)."""
    name, separator, _ = key.rpartition(KEY_SEPARATOR)
    if not separator or not name:
        raise ValueError(f"{key!r} is not a landing partition key (expected '<file name>@<hash>')")
    return name


def current_partition_keys(landed: list[LandedFile]) -> dict[str, str]:
    """The key of each file name's current content (the scan holds one version per name)."""
    return {file.name: file.partition_key for file in landed}


class _HashCache:
    """{path: [size, mtime_ns, hash]} in a JSON file; unreadable caches are ignored."""

    def __init__(self, path: Path | None, landing: Path):
        if path is not None and landing.resolve() in path.resolve().parents:
            raise ValueError(f"hash cache {path} must not be inside the landing folder {landing}")
        self.path = path
        self.entries: dict[str, list] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                self.entries = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.entries = {}

    def get(self, file_path: str, stat: os.stat_result) -> str | None:
        cached = self.entries.get(file_path)
        if cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns:
            return cached[2]
        return None

    def put(self, file_path: str, stat: os.stat_result, content_hash: str) -> str:
        self.entries[file_path] = [stat.st_size, stat.st_mtime_ns, content_hash]
        self.dirty = True
        return content_hash

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(self.path.suffix + ".writing")
        temporary.write_text(json.dumps(self.entries), encoding="utf-8")
        temporary.replace(self.path)  # atomic: a concurrent scan never reads half a cache


# what `contact-pipelines demo` and the tests copy from a samples folder into a landing folder
EXPORT_SUFFIXES = (".csv", ".txt", ".tsv", ".xls", ".xlsx", ".json", ".jsonl", ".gz", ".zip")


def copy_exports(source_dir: Path, landing_dir: Path) -> Path:
    """Copy the export files of a folder (not its README or scripts) into a landing folder."""
    landing_dir.mkdir(parents=True, exist_ok=True)
    for candidate in sorted(source_dir.iterdir()):
        if candidate.is_file() and candidate.name.lower().endswith(EXPORT_SUFFIXES):
            shutil.copy2(candidate, landing_dir / candidate.name)
    return landing_dir
