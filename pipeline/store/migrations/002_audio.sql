-- Call recordings (issue #3): how each recording became text, inferred-role confidence and
-- word timestamps.
ALTER TABLE conversations ADD COLUMN transcript JSON;   -- TranscriptInfo: audio hash, model, options, role method
ALTER TABLE utterances ADD COLUMN role_confidence DOUBLE; -- set when the role was inferred (mono audio)
ALTER TABLE utterances ADD COLUMN words JSON;             -- [[start_s, end_s, text, probability], ...]
