-- Issue #5: conversation metrics, auto notes, and node scores kept per SOP version.
CREATE TABLE conversation_metrics (
    conversation_id  VARCHAR NOT NULL,
    name             VARCHAR NOT NULL,     -- talk_ratio, longest_rep_monologue, … (docs/scoring.md)
    value            DOUBLE,               -- NULL when not applicable: never a made-up number
    unit             VARCHAR NOT NULL,
    applicable       BOOLEAN NOT NULL,
    explanation      VARCHAR NOT NULL,     -- in the conversation's language
    evidence         JSON,
    PRIMARY KEY (conversation_id, name)
);

CREATE TABLE conversation_notes (
    conversation_id    VARCHAR NOT NULL,
    note_index         INTEGER NOT NULL,
    kind               VARCHAR NOT NULL,   -- need | objection | approval | next_step
    utterance_indexes  INTEGER[] NOT NULL,
    quote              VARCHAR NOT NULL,
    answer             VARCHAR,            -- objections: the rep's answer
    answer_index       INTEGER,
    outcome            VARCHAR,            -- objections: accepted | recurred | unresolved | open | no_reply; next steps: confirmed | unconfirmed
    details            JSON,               -- next steps: when / what / who
    line               VARCHAR NOT NULL,   -- the note as one line, in the conversation's language
    PRIMARY KEY (conversation_id, note_index)
);

-- Every (conversation, node, SOP version) ever scored: node_scores holds the current version,
-- this keeps earlier ones so a trend across an SOP edit is never silently mixed.
CREATE TABLE node_score_history (
    conversation_id  VARCHAR NOT NULL,
    node_id          VARCHAR NOT NULL,
    sop_version      VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,
    total            DOUBLE,
    scored_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (conversation_id, node_id, sop_version)
);
