-- The review board's own writes, kept in keynode.review.duckdb beside keynode.duckdb so that
-- they never wait for the pipeline, which holds keynode.duckdb's lock for a whole batch.

-- A person added or removed a key-event label on an utterance. The same columns as the main
-- database's corrections table (migrations/004), so a correction reads the same in either.
CREATE TABLE corrections (
    correction_id    VARCHAR PRIMARY KEY,
    conversation_id  VARCHAR NOT NULL,
    utterance_index  INTEGER NOT NULL,
    node_id          VARCHAR NOT NULL,
    action           VARCHAR NOT NULL CHECK (action IN ('add', 'remove')),
    author           VARCHAR NOT NULL,
    note             VARCHAR,
    created_at       TIMESTAMP NOT NULL
);

-- A rep disputes a node's score with a comment; a manager accepts or rejects it.
CREATE TABLE disputes (
    dispute_id       VARCHAR PRIMARY KEY,
    conversation_id  VARCHAR NOT NULL,
    node_id          VARCHAR NOT NULL,
    author           VARCHAR NOT NULL,   -- who disputes
    comment          VARCHAR NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    status           VARCHAR NOT NULL CHECK (status IN ('open', 'accepted', 'rejected')),
    resolved_by      VARCHAR,            -- NULL while open
    resolution       VARCHAR,
    resolved_at      TIMESTAMP
);

-- Who opened which page (and conversation) of the board, when.
CREATE TABLE access_log (
    accessed_at      TIMESTAMP NOT NULL,
    username         VARCHAR NOT NULL,
    role             VARCHAR NOT NULL,
    conversation_id  VARCHAR,            -- NULL on pages about no single conversation
    page             VARCHAR NOT NULL
);
