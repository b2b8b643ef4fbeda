"""The Keynode database: migrations, the single writer and the read snapshot."""

from pipeline.store.migrate import migrate
from pipeline.store.snapshot import read_snapshot, snapshot_path
from pipeline.store.writer import CONFIG_STAGE, WRITE_BATCH, AnalysisWrite, Store

__all__ = ["CONFIG_STAGE", "WRITE_BATCH", "AnalysisWrite", "Store", "migrate", "read_snapshot", "snapshot_path"]
