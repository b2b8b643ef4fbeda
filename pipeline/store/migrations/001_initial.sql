-- Keynode's first schema. One row per conversation in `conversations`; every other table
-- hangs off conversation_id. Rows of one conversation are replaced together, in one
-- transaction, by pipeline/store/writer.py (the only module that writes).

CREATE TABLE runs (
    run_id        VARCHAR PRIMARY KEY,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    sop_version   VARCHAR NOT NULL,
    tagger        VARCHAR NOT NULL,
    inputs        VARCHAR[] NOT NULL,   -- paths given to `keynode process`
    processed     INTEGER,              -- conversations (re)written
    skipped       INTEGER,              -- unchanged since the last run: not rewritten
    failed        INTEGER               -- files or conversations recorded in `failures`
);

CREATE TABLE conversations (
    conversation_id  VARCHAR PRIMARY KEY,  -- content hash (pipeline.models.content_hash)
    source_path      VARCHAR NOT NULL,
    source_key       VARCHAR,              -- which conversation of a multi-conversation file
    source_format    VARCHAR NOT NULL,     -- wechat | csv | json | jsonl
    channel          VARCHAR NOT NULL,
    language         VARCHAR NOT NULL,
    industry         VARCHAR,
    rep              VARCHAR,
    team             VARCHAR,
    customer         VARCHAR,
    deal_id          VARCHAR,
    stage            VARCHAR,
    outcome          VARCHAR,
    started_at       TIMESTAMP,
    utterance_count  INTEGER NOT NULL,
    duration_s       DOUBLE,               -- last known utterance time, seconds
    fingerprint      VARCHAR NOT NULL,     -- content + metadata + SOP version + tagger: unchanged → skipped
    sop_version      VARCHAR NOT NULL,
    tagger           VARCHAR NOT NULL,
    run_id           VARCHAR NOT NULL,
    processed_at     TIMESTAMP NOT NULL
);

CREATE TABLE utterances (
    conversation_id  VARCHAR NOT NULL,
    utterance_index  INTEGER NOT NULL,
    speaker_role     VARCHAR NOT NULL,     -- rep | customer | other
    speaker_name     VARCHAR NOT NULL,
    start_s          DOUBLE,
    end_s            DOUBLE,
    text             VARCHAR NOT NULL,
    text_normalized  VARCHAR NOT NULL,     -- NFKC + lower case: what search matches against
    PRIMARY KEY (conversation_id, utterance_index)
);

CREATE TABLE key_events (
    conversation_id  VARCHAR NOT NULL,
    utterance_index  INTEGER NOT NULL,
    node_id          VARCHAR NOT NULL,
    confidence       DOUBLE NOT NULL,
    evidence         VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,     -- e.g. rule:price_objection/太贵
    sop_version      VARCHAR NOT NULL,
    PRIMARY KEY (conversation_id, utterance_index, node_id)
);

CREATE TABLE event_tree (
    conversation_id  VARCHAR NOT NULL,
    tree_key         INTEGER NOT NULL,
    parent_key       INTEGER,              -- NULL at the top level
    kind             VARCHAR NOT NULL,     -- occurrence | reply
    node_id          VARCHAR,              -- NULL for a reply
    speaker_role     VARCHAR NOT NULL,
    first_utterance  INTEGER NOT NULL,
    last_utterance   INTEGER NOT NULL,
    depth            INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, tree_key)
);

CREATE TABLE node_scores (
    conversation_id      VARCHAR NOT NULL,
    node_id              VARCHAR NOT NULL,
    status               VARCHAR NOT NULL, -- present | missed | not_applicable
    key_points           DOUBLE,
    communication_skill  DOUBLE,
    attitude             DOUBLE,
    customer_feedback    DOUBLE,
    total                DOUBLE,
    explanation          JSON,             -- {dimension: plain-language explanation}
    evidence             JSON,             -- {dimension: metrics, matched key points, utterances}
    tip                  VARCHAR NOT NULL,
    utterance_indexes    INTEGER[] NOT NULL,
    sop_version          VARCHAR NOT NULL,
    PRIMARY KEY (conversation_id, node_id)
);

CREATE TABLE conversation_scores (
    conversation_id    VARCHAR PRIMARY KEY,
    coverage           DOUBLE NOT NULL,
    missing_required   VARCHAR[] NOT NULL,
    order_conformance  DOUBLE,
    node_order         VARCHAR[] NOT NULL,
    total              DOUBLE NOT NULL,
    sop_version        VARCHAR NOT NULL
);

CREATE TABLE failures (
    failure_id   VARCHAR PRIMARY KEY,
    run_id       VARCHAR NOT NULL,
    source_path  VARCHAR NOT NULL,
    source_key   VARCHAR,
    stage        VARCHAR NOT NULL,         -- read | parse | manifest | roles | analyze | ...
    error_type   VARCHAR NOT NULL,
    message      VARCHAR NOT NULL,         -- names the file and the fix
    occurred_at  TIMESTAMP NOT NULL,
    resolved_at  TIMESTAMP                 -- set when the same source later succeeds
);
