"""Write the bad inputs of the bad-input corpus that are not committed: audio and binary files,
large files, and file-system tricks (links, a folder named like a file, a file nobody may read).

tests/data/bad/ holds the small text files; tests/pipeline/test_bad_inputs.py copies that folder
into a temporary one and calls :func:`make_bad_inputs` on the copy, then processes it all in one
batch. docs/formats.md ("Bad input") lists what Keynode does with each file.

    .venv/bin/python scripts/make_bad_inputs.py /tmp/bad     # writes the generated files there
    cp -r tests/data/bad/. /tmp/bad && .venv/bin/keynode process /tmp/bad --db /tmp/bad.duckdb

Everything is deterministic (seeded bytes, a fixed speech clip), so every run writes the same
bytes. Audio needs numpy and PyAV (the audio extra).
"""

from __future__ import annotations

import io
import os
import random
import struct
import sys
import wave
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: 4.3 s of Mandarin read speech (tests/data/audio/README.md): the only speech in the corpus.
SPEECH = ROOT / "tests" / "data" / "audio" / "zh_aishell1_BAC009S0724W0121.wav"
RATE = 16_000

#: A well-formed WeChat export, used where the point is the file, not its text.
GOOD_CHAT = """与钱女士的聊天记录

2024-07-03 09:30:00 张敏
钱女士您好，我是安和保险经纪的张敏，您上周咨询的家庭保障方案我整理好了，现在方便看一下吗？

2024-07-03 09:32:10 钱女士
方便，多少钱一年？

2024-07-03 09:33:00 张敏
一家三口每年六千左右，我周五下午给您打电话详细讲，可以吗？

2024-07-03 09:34:20 钱女士
可以
"""

#: What each generated file is (name relative to the corpus folder → the kind of bad input).
GENERATED: dict[str, str] = {
    "empty.wav": "an empty recording (0 bytes)",
    "no_samples.wav": "a valid WAV header and no samples",
    "corrupt_header.wav": "a WAV whose header breaks off into random bytes",
    "truncated.mp3": "the first third of an MP3 whose header states its full length",
    "mp3_named.wav": "a complete MP3 (4.3 s of speech) named .wav",
    "silence.wav": "3 s of digital silence",
    "three_hours.wav": "a WAV header stating 3 hours of audio, with 1 s in the file",
    "unknown_codec.wav": "a WAV whose format tag (0x1234) names a codec FFmpeg does not know",
    "not_audio.m4a": "random bytes named .m4a",
    "chat_named.wav": "a WeChat text export named .wav",
    "binary_garbage.json": "random bytes named .json",
    "deep_nesting.json": "100,000 nested JSON lists",
    "huge_line.txt": "a WeChat export with one 1 MB message",
    "huge_cell.csv": "a CSV with one 200,000-character cell",
    "export.xlsx": "an Excel workbook (unsupported format)",
    "folder.txt/chat.txt": "a folder named like a file (holding a good export)",
    "broken_link.txt": "a symbolic link to a file that does not exist",
    "link_loop.txt": "a symbolic link to itself",
    "loop_folder": "a symbolic link to the folder it is in (a folder loop)",
    "unreadable.txt": "a good export nobody may read (not written when running as root, who reads anything)",
}


def _wav_bytes(samples: bytes, channels: int = 1, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples)
    return buffer.getvalue()


def _speech_pcm() -> bytes:
    with wave.open(str(SPEECH), "rb") as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, RATE)
        return reader.readframes(reader.getnframes())


def _mp3_bytes(pcm: bytes) -> bytes:
    """16 kHz mono 16-bit PCM as a 32 kbit/s MP3 (LAME, with its Info frame stating the length)."""
    import av
    import numpy as np

    frame = av.AudioFrame.from_ndarray(np.frombuffer(pcm, dtype="<i2")[None, :], format="s16", layout="mono")
    frame.rate = RATE
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE, layout="mono")
        stream.bit_rate = 32_000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def _claiming(wav: bytes, seconds: float) -> bytes:
    """A WAV whose RIFF and data sizes state ``seconds`` of audio, whatever the file holds."""
    size = int(seconds * RATE * 2)
    assert wav[36:40] == b"data"
    return wav[:4] + struct.pack("<I", 36 + size) + wav[8:40] + struct.pack("<I", size) + wav[44:]


def _with_format_tag(wav: bytes, format_tag: int) -> bytes:
    """A WAV whose ``fmt `` chunk names another codec (PCM is 1) over the same bytes."""
    assert wav[12:16] == b"fmt "
    return wav[:20] + struct.pack("<H", format_tag) + wav[22:]


def _huge_message_chat() -> str:
    sentence = "我们的系统可以自动分配客户，离职交接一键完成，价格是每人每月九十九元。"
    message = sentence * (1_048_576 // len(sentence.encode("utf-8")) + 1)
    return (f"2024-07-03 11:00:00 王磊\n冯总您好，我把方案说明发您\n\n2024-07-03 11:01:00 王磊\n{message}\n\n"
            "2024-07-03 11:05:00 冯总\n收到\n")


def _xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as workbook:  # fixed timestamps: the same bytes every run
        workbook.writestr(zipfile.ZipInfo("[Content_Types].xml", (2024, 7, 3, 0, 0, 0)), "<Types/>")
        workbook.writestr(zipfile.ZipInfo("xl/workbook.xml", (2024, 7, 3, 0, 0, 0)), "<workbook/>")
    return buffer.getvalue()


def make_bad_inputs(folder: str | Path) -> list[Path]:
    """Write the generated bad inputs into ``folder`` (created if needed); returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    noise = random.Random(7)
    speech_mp3 = _mp3_bytes(_speech_pcm())
    files: dict[str, bytes] = {
        "empty.wav": b"",
        "no_samples.wav": _wav_bytes(b""),
        "corrupt_header.wav": b"RIFF\x24\x00\x00\x00WAVEfmt " + noise.randbytes(200),
        "truncated.mp3": speech_mp3[:len(speech_mp3) // 3],
        "mp3_named.wav": speech_mp3,
        "silence.wav": _wav_bytes(bytes(3 * RATE * 2)),
        "three_hours.wav": _claiming(_wav_bytes(bytes(RATE * 2)), 3 * 3600),
        "unknown_codec.wav": _with_format_tag(_wav_bytes(_speech_pcm()[:RATE * 2]), 0x1234),
        "not_audio.m4a": noise.randbytes(4096),
        "chat_named.wav": GOOD_CHAT.encode("utf-8"),
        "binary_garbage.json": noise.randbytes(2048),
        "deep_nesting.json": b"[" * 100_000,
        "huge_line.txt": _huge_message_chat().encode("utf-8"),
        "huge_cell.csv": f"speaker,role,text\n王磊,rep,您好\n李女士,customer,{'好' * 200_000}\n".encode("utf-8"),
        "export.xlsx": _xlsx_bytes(),
        "folder.txt/chat.txt": GOOD_CHAT.replace("钱女士", "唐女士").encode("utf-8"),
    }
    written = []
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    for name, target in {"broken_link.txt": "no_such_export.txt", "link_loop.txt": "link_loop.txt",
                         "loop_folder": "."}.items():
        (folder / name).unlink(missing_ok=True)
        (folder / name).symlink_to(target)
        written.append(folder / name)
    if os.geteuid() != 0:  # root reads any file: the case cannot be made
        unreadable = folder / "unreadable.txt"
        unreadable.write_text(GOOD_CHAT.replace("钱女士", "郭女士"), encoding="utf-8")
        unreadable.chmod(0)
        written.append(unreadable)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} FOLDER")
    for path in make_bad_inputs(sys.argv[1]):
        print(f"{path}  ({GENERATED[str(path.relative_to(sys.argv[1]))]})")
