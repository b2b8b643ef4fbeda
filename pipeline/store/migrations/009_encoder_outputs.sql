-- The fine-tuned context encoder's probabilities (pipeline/events/encoder.py), kept as the
-- sentence vectors are: re-tagging after an SOP or threshold change never runs the network
-- again on an utterance whose context it has read. One row per utterance context and encoder.
CREATE TABLE encoder_outputs (
    context_key    VARCHAR NOT NULL,     -- FineTunedEncoder.context_keys: a digest of what it reads
    encoder        VARCHAR NOT NULL,     -- FineTunedEncoder.name: a digest of its weights
    probabilities  FLOAT[] NOT NULL,     -- one per event, in pipeline.events.corpus.EVENTS order
    PRIMARY KEY (context_key, encoder)
);
