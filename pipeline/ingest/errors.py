"""The one error type every reader raises for bad input."""

from __future__ import annotations


class IngestError(ValueError):
    """Bad input: names the file (and conversation, when one file holds several), what is wrong
    and how to fix it. The flow records it in the ``failures`` table and goes on."""

    def __init__(self, path: str, stage: str, problem: str, fix: str, key: str | None = None):
        self.path = path
        self.stage = stage
        self.problem = problem
        self.fix = fix
        self.key = key
        where = f"{path} [{key}]" if key else path
        super().__init__(f"{where}: {problem}. Fix: {fix}.")

    def __reduce__(self):
        # Tasks may run in other processes (a Dask worker): the error is pickled back to the
        # flow, and the default pickling would call __init__ with the message alone.
        return type(self), (self.path, self.stage, self.problem, self.fix, self.key)
