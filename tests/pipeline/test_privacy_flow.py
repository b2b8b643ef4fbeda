"""Personal data is redacted before anything is stored (issue #7, part 4): the process flow on a
chat holding a mobile number and an e-mail address, with keep_original true and then false."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipeline.flows import process
from pipeline.store import snapshot_path
from pipeline.text import normalize

MOBILE, EMAIL = "13812345678", "zhang.san@qq.com"
PII_UTTERANCE = f"好的，那就周四下午三点给您演示，我打您{MOBILE}，资料发到{EMAIL}"
MASKED_UTTERANCE = "好的，那就周四下午三点给您演示，我打您[手机号]，资料发到[邮箱]"


def _places_holding(db: Path, needle: str) -> list[str]:
    """``table.column`` of every cell of every table whose text (any column cast to text: VARCHAR,
    JSON, lists) contains ``needle``."""
    found = []
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                              "ORDER BY table_name, column_name").fetchall()
        for table, column in columns:
            (count,) = con.execute(f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?',
                                   [f"%{needle}%"]).fetchone()
            if count:
                found.append(f"{table}.{column}")
    return found


@pytest.fixture
def chat_folder(tmp_path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "chat.json").write_text(json.dumps({"metadata": {"rep": "王磊", "customer": "李女士", "language": "zh"},
                                                  "messages": [
        {"speaker": "王磊", "role": "rep", "text": "李总您好，我是云启科技的王磊，想跟您聊聊客户管理，您现在方便吗？"},
        {"speaker": "李女士", "role": "customer", "text": f"方便。我手机{MOBILE}，资料发我邮箱{EMAIL}"},
        {"speaker": "王磊", "role": "rep", "text": PII_UTTERANCE},
        {"speaker": "李女士", "role": "customer", "text": "好的，周四见。"}]}, ensure_ascii=False), encoding="utf-8")
    return folder


def _process(folder: Path, db: Path, privacy: Path, sop_path: Path, reps_path: Path):
    return process([str(folder)], sop_path=str(sop_path), db_path=str(db), reps_path=str(reps_path),
                   privacy_path=str(privacy))


def test_a_chat_is_stored_masked_and_its_original_only_where_the_config_says(prefect_harness, tmp_path, chat_folder,
                                                                            sop_path, reps_path):
    db = tmp_path / "k.duckdb"
    keep = tmp_path / "keep.yaml"
    keep.write_text("mode: mask\nlang: auto\nkeep_original: true\n", encoding="utf-8")
    drop = tmp_path / "drop.yaml"
    drop.write_text("mode: mask\nlang: auto\nkeep_original: false\n", encoding="utf-8")

    # keep_original: true — masked everywhere, the originals only in utterance_originals.
    assert (_process(chat_folder, db, keep, sop_path, reps_path).processed, ) == (1, )
    with duckdb.connect(str(db), read_only=True) as con:
        texts = dict(con.execute("SELECT utterance_index, text FROM utterances").fetchall())
        normalized = dict(con.execute("SELECT utterance_index, text_normalized FROM utterances").fetchall())
        evidence = con.execute("SELECT evidence FROM key_events WHERE node_id = 'next_step'").fetchall()
        originals = con.execute("SELECT utterance_index, text FROM utterance_originals ORDER BY 1").fetchall()
        notes = [row[0] for row in con.execute("SELECT line FROM conversation_notes").fetchall()]
    assert texts[1] == "方便。我手机[手机号]，资料发我邮箱[邮箱]" and texts[2] == MASKED_UTTERANCE
    # Normalised text drops sticker-like placeholders (pipeline.privacy.kinds), and the data with them.
    assert normalized[2] == normalize(MASKED_UTTERANCE) and MOBILE not in normalized[2]
    assert evidence == [(MASKED_UTTERANCE,)]
    assert any("[手机号]" in line for line in notes)
    assert originals == [(1, f"方便。我手机{MOBILE}，资料发我邮箱{EMAIL}"), (2, PII_UTTERANCE)]
    for needle in (MOBILE, EMAIL):
        assert _places_holding(db, needle) == ["utterance_originals.text"], needle

    # keep_original: false — the changed settings re-process the chat, and no original is left.
    summary = _process(chat_folder, db, drop, sop_path, reps_path)
    assert (summary.processed, summary.skipped) == (1, 0)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM utterance_originals").fetchone() == (0,)
        assert con.execute("SELECT text FROM utterances WHERE utterance_index = 2").fetchone() == (MASKED_UTTERANCE,)
    for needle in (MOBILE, EMAIL):
        assert _places_holding(db, needle) == [], needle
        assert _places_holding(snapshot_path(db), needle) == [], needle

    # Unchanged settings: skipped as unchanged (the id is the original content's).
    assert (_process(chat_folder, db, drop, sop_path, reps_path).skipped, ) == (1, )
