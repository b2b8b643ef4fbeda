-- Human corrections of key-event labels (issue #4; the board's button is issue #6) and the
-- sentence-embedding cache (re-tagging never re-embeds a text it has seen).
CREATE TABLE corrections (
    correction_id    VARCHAR PRIMARY KEY,
    conversation_id  VARCHAR NOT NULL,
    utterance_index  INTEGER NOT NULL,
    node_id          VARCHAR NOT NULL,
    action           VARCHAR NOT NULL,   -- add | remove
    author           VARCHAR NOT NULL,
    note             VARCHAR,
    created_at       TIMESTAMP NOT NULL
);

CREATE TABLE embeddings (
    text_key   VARCHAR NOT NULL,         -- pipeline.events.embeddings.text_key(text)
    embedder   VARCHAR NOT NULL,         -- model name and version
    vector     FLOAT[384] NOT NULL,
    PRIMARY KEY (text_key, embedder)
);
