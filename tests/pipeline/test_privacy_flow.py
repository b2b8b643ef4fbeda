"""Personal data is redacted before anything is stored (issue #7, part 4): the process flow on a
chat holding a mobile number and an e-mail address, with keep_original true and then false."""

from __future__ import annotations

import json
import shutil
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


SPOKEN_NUMBER = "five five five two one two three four five six"  # (555) 212-3456, read out


def test_a_number_read_out_in_a_call_is_masked_in_the_text_and_the_word_timestamps(prefect_harness, tmp_path,
                                                                                     monkeypatch, sop_path,
                                                                                     reps_path):
    """A real stereo recording, transcribed once; then its cached transcript gets the customer
    reading out a phone number, one word per digit (as Whisper writes it), and the call is
    processed again: the number is gone from the text and every word token, the words keep
    their timestamps, and the mask sits on the first digit's word."""
    cache = tmp_path / "transcripts"
    monkeypatch.setenv("KEYNODE_TRANSCRIPT_CACHE", str(cache))
    folder = tmp_path / "calls"
    folder.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "audio" / "en_stereo_2spk.wav", folder / "call.wav")
    (folder / "manifest.csv").write_text(
        "file,language,rep,customer,rep_channel\ncall.wav,en,Emily Carter,Sam,right\n", encoding="utf-8")
    off = tmp_path / "off.yaml"
    off.write_text("mode: off\n", encoding="utf-8")
    assert _process(folder, tmp_path / "first.duckdb", off, sop_path, reps_path).processed == 1

    [cached] = cache.glob("*.json")
    assert cached.stat().st_mode & 0o777 == 0o600  # an unredacted transcript: the owner's only
    channels = json.loads(cached.read_text(encoding="utf-8"))
    customer_words = channels[0]["words"]  # left channel: the rep speaks on the right
    start_s = customer_words[-1]["end_s"] + 0.4
    spoken = [f" {word}" for word in f"my number is {SPOKEN_NUMBER}".split()]
    added = [{"start_s": round(start_s + 0.3 * i, 2), "end_s": round(start_s + 0.3 * i + 0.25, 2), "text": word,
              "probability": 0.9} for i, word in enumerate(spoken)]
    customer_words += added
    cached.write_text(json.dumps(channels, ensure_ascii=False), encoding="utf-8")

    db = tmp_path / "k.duckdb"
    mask = tmp_path / "mask.yaml"
    mask.write_text("mode: mask\nlang: auto\nkeep_original: true\n", encoding="utf-8")
    assert _process(folder, db, mask, sop_path, reps_path).processed == 1
    with duckdb.connect(str(db), read_only=True) as con:
        text, words = con.execute("SELECT text, words FROM utterances WHERE speaker_role = 'customer' "
                                  "ORDER BY utterance_index DESC LIMIT 1").fetchone()
        [(original,)] = con.execute("SELECT text FROM utterance_originals").fetchall()
    assert text.endswith("my number is [PHONE]")
    assert original.endswith(f"my number is {SPOKEN_NUMBER}")
    tail = json.loads(words)[-len(added):]
    assert [word[2] for word in tail] == [" my", " number", " is", " [PHONE]"] + [""] * 9
    assert [word[:2] for word in tail] == [[word["start_s"], word["end_s"]] for word in added]
    assert _places_holding(db, "five five") == ["utterance_originals.text"]
    assert _places_holding(db, " five") == ["utterance_originals.text"]
