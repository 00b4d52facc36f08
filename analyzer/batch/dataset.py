"""The dataset on disk: its layout, what it holds, and putting a capture in atomically.

    DATASET/_dataset.json                               the schema version and the tables
    DATASET/capture_id=<id>/<table>/part-<n>.parquet     the rows of one capture (every table)
    DATASET/.staging/                                    partitions being written (never read)
    DATASET/.lock                                        one `batch` at a time

A capture's partition is written whole in `.staging/` and then renamed into place, so a reader
sees all of a capture's tables or none (a full disk or a killed run leaves only `.staging/`,
removed by the next run). Its id is a hash of where it was read from, so a changed capture
(another size or SHA-256) replaces its partition.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq

from analyzer.batch.schema import SCHEMA_VERSION, TABLE_NAMES
from analyzer.batch.sink import TableFiles, table_path

__all__ = ["Dataset", "DatasetError", "capture_id"]

META = "_dataset.json"
PREFIX = "capture_id="


class DatasetError(Exception):
    """The dataset cannot be used or written: one sentence."""


def capture_id(location: str) -> str:
    return hashlib.sha256(location.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class Dataset:
    def __init__(self, root: str) -> None:
        self.root = root
        self.staging = os.path.join(root, ".staging")

    # -- opening --
    def check(self) -> None:
        """DatasetError unless `root` is a dataset of this schema version (or nothing yet)."""
        meta = os.path.join(self.root, META)
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise DatasetError(f"{self.root} is not a directory")
        if not os.path.exists(meta):
            if os.path.isdir(self.root) and any(not n.startswith(".") for n in os.listdir(self.root)):
                raise DatasetError(f"{self.root} is not empty and is not a socketscope dataset")
            return
        try:
            with open(meta, encoding="utf-8") as fh:
                version = json.load(fh).get("schema_version")
        except (OSError, ValueError, AttributeError) as exc:
            raise DatasetError(f"{meta} cannot be read: {exc}") from None
        if version != SCHEMA_VERSION:
            raise DatasetError(
                f"{self.root} has schema version {version}; this socketscope writes version "
                f"{SCHEMA_VERSION}: write a new dataset"
            )

    def create(self) -> None:
        self.check()
        os.makedirs(self.root, exist_ok=True)
        meta = os.path.join(self.root, META)
        if not os.path.exists(meta):
            tmp = meta + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(
                    {
                        "format": "socketscope-dataset",
                        "schema_version": SCHEMA_VERSION,
                        "tables": list(TABLE_NAMES),
                        "layout": "capture_id=<id>/<table>/part-<n>.parquet",
                    },
                    fh,
                    indent=1,
                )
            os.replace(tmp, meta)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held while a batch writes: a second batch into the same dataset fails at once."""
        fd = os.open(os.path.join(self.root, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise DatasetError(f"another socketscope batch is writing {self.root}") from None
            shutil.rmtree(self.staging, ignore_errors=True)  # what a killed run left
            try:
                yield
            finally:
                shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            os.close(fd)

    # -- reading --
    def partitions(self) -> list[str]:
        return sorted(glob.glob(os.path.join(glob.escape(self.root), PREFIX + "*")))

    def state(self) -> dict[str, dict[str, Any]]:
        """capture id -> its `captures` row (source, size, sha256, error), for every capture held."""
        out: dict[str, dict[str, Any]] = {}
        for part in self.partitions():
            path = table_path(part, "captures", 0)
            try:
                table = pq.read_table(path, columns=["capture_id", "source", "size", "sha256", "error"])
            except (OSError, ValueError):
                continue  # not a partition of ours: not counted, replaced if its capture comes
            for row in table.to_pylist():
                out[row["capture_id"]] = row
        return out

    # -- writing --
    def staging_dir(self, cid: str) -> str:
        return os.path.join(self.staging, f"{cid}-{uuid.uuid4().hex[:12]}")

    def commit(self, staging: str, cid: str, row: dict[str, Any]) -> None:
        """The capture's `captures` row is written into its staging directory, the tables it lacks
        (an error, a share that wrote none) are written empty, and the directory takes the place
        of the capture's partition in one rename."""
        files = TableFiles(staging, cid, 0, ("captures",))
        files.add("captures", row)
        files.close()
        for table in TABLE_NAMES:
            if not glob.glob(os.path.join(glob.escape(staging), table, "*.parquet")):
                TableFiles(staging, cid, 0, (table,)).close()
        for name in os.listdir(staging):
            if name.endswith(".pickle"):
                os.unlink(os.path.join(staging, name))
        final = os.path.join(self.root, PREFIX + cid)
        old = None
        if os.path.exists(final):
            old = os.path.join(self.staging, f"old-{cid}-{uuid.uuid4().hex[:8]}")
            os.rename(final, old)
        os.rename(staging, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def remove_staging(self, staging: str) -> None:
        shutil.rmtree(staging, ignore_errors=True)


def now_micros() -> int:
    return int(time.time() * 1_000_000)
