"""IngestError (pipeline/ingest/errors.py): the message, and a round trip through pickle."""

from __future__ import annotations

import pickle

from pipeline.ingest import IngestError


def test_the_message_names_the_file_the_conversation_and_the_fix():
    error = IngestError("exports/a.jsonl", "parse", "line 2 is not valid JSON", "write one object per line", "line 2")
    assert str(error) == "exports/a.jsonl [line 2]: line 2 is not valid JSON. Fix: write one object per line."


def test_it_survives_pickling_as_errors_of_tasks_on_other_processes_do():
    error = IngestError("calls/a.wav", "decode", "the file is empty (0 bytes)", "copy the recording again")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is IngestError and str(copy) == str(error)
    assert (copy.path, copy.stage, copy.problem, copy.fix, copy.key) == (
        "calls/a.wav", "decode", "the file is empty (0 bytes)", "copy the recording again", None)
