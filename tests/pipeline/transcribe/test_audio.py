"""Reading recordings (pipeline/transcribe/audio.py): probe errors, the length a header states,
and recordings cut short. No speech model is needed here."""

import struct
import sys
from pathlib import Path

import pytest

from pipeline.ingest import IngestError
from pipeline.transcribe.audio import (AudioInfo, WHISPER_RATE, _wav_stated_s, check_complete, decode, packets_s,
                                      probe, stream)

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
from make_bad_inputs import make_bad_inputs  # noqa: E402

RECORDINGS = sorted(path for folder in (ROOT / "data" / "samples" / "calls", ROOT / "tests" / "data" / "audio")
                    for path in folder.iterdir() if path.suffix in (".wav", ".mp3", ".flac", ".ogg", ".opus", ".amr"))


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    """The generated files of the bad-input corpus (scripts/make_bad_inputs.py)."""
    folder = tmp_path_factory.mktemp("bad")
    make_bad_inputs(folder)
    return folder


@pytest.mark.parametrize("name, problem, fix", [
    ("empty.wav", "the file is empty (0 bytes)", "copy or export the recording again"),
    ("chat_named.wav", "the file holds text, not audio",
     "if it is a chat export, give it its format's extension (.txt, .csv, .json, .jsonl); otherwise copy the "
     "recording again"),
    ("not_audio.m4a", "the audio cannot be decoded (FFmpeg: Invalid data found when processing input)",
     "check that the file is a complete wav/mp3/m4a/flac/ogg/amr recording"),
    ("corrupt_header.wav", "the audio cannot be decoded (FFmpeg: Invalid data found when processing input)",
     "check that the file is a complete wav/mp3/m4a/flac/ogg/amr recording"),
    ("broken_link.txt", "the file does not exist", "check the path"),
])
def test_probe_errors_name_the_file_and_the_fix(bad, name, problem, fix):
    with pytest.raises(IngestError) as caught:
        probe(bad / name)
    assert (caught.value.path, caught.value.stage, caught.value.problem, caught.value.fix) == (
        str(bad / name), "decode", problem, fix)


def test_an_mp3_named_wav_is_probed_by_its_content(bad):
    info = probe(bad / "mp3_named.wav")
    assert (info.codec, info.channels, info.sample_rate, round(info.duration_s, 2), info.stated_s) == (
        "mp3float", 1, 16000, 4.28, info.duration_s)  # LAME's Info frame states the length


@pytest.mark.parametrize("name, stated, decoded, message", [
    ("truncated.mp3", 4.281, 1.37, "its header states 4.3 s of audio but only 1.4 s are in the file"),
    ("three_hours.wav", 10800.0, 1.0, "its header states 3:00:00 of audio but only 1.0 s are in the file"),
])
def test_a_recording_cut_short_is_refused(bad, name, stated, decoded, message):
    info = probe(bad / name)
    samples = decode(bad / name, split_stereo=False)
    assert (round(info.stated_s, 3), round(len(samples) / WHISPER_RATE, 2)) == (stated, decoded)
    with pytest.raises(IngestError) as caught:
        check_complete(bad / name, info, len(samples) / WHISPER_RATE)
    assert caught.value.problem == f"the recording is truncated: {message}"
    assert caught.value.fix.startswith("copy the complete recording again")


@pytest.mark.parametrize("path", RECORDINGS, ids=[path.name for path in RECORDINGS])
def test_complete_recordings_pass(path):
    """Every real recording of the project: what the header states (WAV, and MP3 with a LAME
    frame; AMR, Ogg/Opus and FLAC state nothing checked) matches what decodes."""
    info = probe(path)
    decoded_s = len(decode(path, split_stereo=False)) / WHISPER_RATE
    check_complete(path, info, decoded_s)
    if info.stated_s is not None:
        assert abs(info.stated_s - decoded_s) < 0.01


def _wav(tmp_path: Path, data_size: int, extra_chunk: bytes = b"") -> Path:
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunk + b"data" + struct.pack("<I", data_size)
    path = tmp_path / "call.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 800) + body + bytes(800))
    return path


def test_the_stated_length_of_a_wav_is_its_data_size_over_its_byte_rate(tmp_path):
    assert _wav_stated_s(_wav(tmp_path, 16000 * 60)) == 60.0
    list_chunk = b"LIST" + struct.pack("<I", 5) + b"INFO!" + b"\x00"  # odd size: padded to even
    assert _wav_stated_s(_wav(tmp_path, 32000, list_chunk)) == 2.0


@pytest.mark.parametrize("data_size", [0, 0xFFFFFFFF])
def test_streaming_placeholder_sizes_state_no_length(tmp_path, data_size):
    assert _wav_stated_s(_wav(tmp_path, data_size)) is None


@pytest.mark.parametrize("stated, decoded", [(None, 1.0), (100.0, 98.5), (10.0, 9.1), (4.3, 4.3)])
def test_small_differences_and_unstated_lengths_pass(stated, decoded):
    check_complete("call.wav", AudioInfo(1, 16000, decoded, "pcm_s16le", stated), decoded)


@pytest.mark.parametrize("path", RECORDINGS, ids=[path.name for path in RECORDINGS])
def test_streamed_blocks_are_the_samples_decode_returns(path):
    """Long recordings are decoded block by block: the blocks, joined, are exactly the samples
    of the whole-file decoder, per channel too, whatever the block length; every block but the
    last is full, and only the last says so."""
    import numpy as np

    stereo_too = [False, True] if probe(path).channels == 2 else [False]
    for split_stereo in stereo_too:
        whole = decode(path, split_stereo=split_stereo)
        whole = np.stack(whole) if split_stereo else whole
        for block_s in (1.0, 7.3, 3600.0):
            blocks = list(stream(path, split_stereo, block_s))
            assert [last for _block, last in blocks] == [False] * (len(blocks) - 1) + [True]
            assert all(block.shape[-1] == int(block_s * WHISPER_RATE) for block, _last in blocks[:-1])
            joined = np.concatenate([block for block, _last in blocks], axis=-1)
            assert joined.dtype == np.float32 and np.array_equal(joined, whole)


def test_packets_tell_how_much_audio_is_there_without_decoding(bad):
    """What a long recording holds is checked before decoding it: complete files' packets hold
    their length (MP3 packets also count the encoder's padding: measured up to 0.16 s more, well
    inside check_complete's 1 s slack), a truncated MP3's a third of what its header states."""
    for path in RECORDINGS:
        if probe(path).stated_s:
            assert abs(packets_s(path) - len(decode(path, split_stereo=False)) / WHISPER_RATE) < 0.25, path.name
    info = probe(bad / "truncated.mp3")
    assert packets_s(bad / "truncated.mp3") < info.stated_s / 2
    with pytest.raises(IngestError, match="the audio cannot be decoded"):
        packets_s(bad / "not_audio.m4a")
