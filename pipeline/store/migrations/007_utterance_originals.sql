-- Issue #7, part 4: personal data is redacted before conversations are stored
-- (configs/privacy.yaml). With keep_original: true, the original text of each utterance the
-- redaction changed is kept here, read by admins only (dashboards/data.py, original_texts);
-- with keep_original: false the table stays empty.
CREATE TABLE utterance_originals (
    conversation_id  VARCHAR NOT NULL,
    utterance_index  INTEGER NOT NULL,
    text             VARCHAR NOT NULL,   -- the utterance's text before redaction
    PRIMARY KEY (conversation_id, utterance_index)
);

-- The privacy settings a conversation was stored with (mode, lang, patterns, keep_original;
-- never the salt). They are part of its fingerprint; `keynode retag`/`rescore` reuse them, so
-- the fingerprints they write are the ones `keynode process` would compute.
ALTER TABLE conversations ADD COLUMN privacy JSON;
