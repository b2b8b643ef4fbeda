-- The objection library (docs/board.md, "Objection library") is grouped in SQL on the board:
-- each objection note stores its theme and its quote and answer as a trainer sees them
-- (personal data masked), computed when the note is built (pipeline/scoring/objections.py,
-- library_fields). Other kinds of note leave them NULL. Rows stored before this migration are
-- filled by the writer when it opens the database (Store._fill_objection_library_fields: SQL
-- cannot mask); until then, the board computes them when it reads them (dashboards/data.py).
ALTER TABLE conversation_notes ADD COLUMN theme VARCHAR;          -- competitor | budget | discount | price | other
ALTER TABLE conversation_notes ADD COLUMN quote_masked VARCHAR;   -- the quote as a trainer sees it
ALTER TABLE conversation_notes ADD COLUMN answer_masked VARCHAR;  -- the answer as a trainer sees it (NULL: none)
