-- Issue #7: crash safety and resume. Each run records the inputs it discovered, so a run that
-- was killed can be named and its unfinished inputs counted (`keynode status`), and the process
-- that ran it, so a run left unfinished is told from one still running.
ALTER TABLE runs ADD COLUMN pid INTEGER;               -- the process that ran it
ALTER TABLE runs ADD COLUMN host VARCHAR;              -- and its machine
ALTER TABLE runs ADD COLUMN interrupted_at TIMESTAMP;  -- set when the run is found dead (never finished)
ALTER TABLE runs ADD COLUMN interrupted_reason VARCHAR;

CREATE TABLE run_inputs (
    run_id       VARCHAR NOT NULL,
    source_path  VARCHAR NOT NULL,   -- a discovered file, as `failures.source_path` and `conversations.source_path` name it
    digest       VARCHAR,            -- sha256 of the file's bytes when the run discovered it (NULL: unreadable)
    state        VARCHAR NOT NULL,   -- queued | done | failed
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, source_path)
);
