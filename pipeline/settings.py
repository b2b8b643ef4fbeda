"""Defaults for paths and for Prefect, set before Prefect is imported.

Prefect reads its settings from the environment when it is first imported, so
:func:`configure_prefect` must run before any ``import prefect``; ``pipeline.flows`` calls it
at import. Values already in the environment win (a user may run a real Prefect server).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SOP = Path("configs/sop.yaml")
DEFAULT_REPS = Path("configs/reps.yaml")
DEFAULT_PRIVACY = Path("configs/privacy.yaml")
DEFAULT_DB = Path("data/keynode.duckdb")
# Everything Keynode keeps on its own (Prefect's home and temporary server database) stays in
# the project's ignored `.keynode/` folder, never in the user's home.
STATE_DIR = Path(".keynode")


def configure_prefect(state_dir: Path = STATE_DIR) -> None:
    """No telemetry, no analytics, a project-local ``PREFECT_HOME``; no server needed."""
    defaults = {
        "PREFECT_HOME": str((state_dir / "prefect").resolve()),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Without PREFECT_API_URL, Prefect starts a temporary local API; give it time on a
        # small machine (the first start migrates its SQLite database).
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    # Prefect creates its home but not the folders above it.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
