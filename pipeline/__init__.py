"""Keynode: conversation intelligence for sales teams.

Stages: ``ingest`` → (``transcribe``) → ``events`` → ``scoring`` → ``store``; ``flows``
orchestrates them with Prefect. Records live in ``pipeline.models``.
"""

__version__ = "0.1.0"
