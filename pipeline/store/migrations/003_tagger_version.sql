-- Re-tagging (issue #4): every key event records the tagger (rules or model version) that found it.
ALTER TABLE key_events ADD COLUMN tagger VARCHAR;
