"""The Keynode database: migrations, the single writer and the read snapshot."""

from pipeline.store.migrate import migrate
from pipeline.store.snapshot import read_snapshot, snapshot_path
from pipeline.store.writer import Store

__all__ = ["Store", "migrate", "read_snapshot", "snapshot_path"]
