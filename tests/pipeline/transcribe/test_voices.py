"""Voice fingerprints and two-voice clustering on synthetic speech-like signals."""

import numpy as np

from pipeline.transcribe.voices import RATE, cluster_voices, turn_fingerprint


def _voice(pitch_hz: float, seconds: float, seed: int) -> np.ndarray:
    """A buzzy harmonic tone with a little noise: enough of a 'voice' for pitch and timbre."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * pitch_hz * k * t) / k for k in range(1, 12))
    return (0.1 * wave + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


def test_alternating_low_and_high_voices_fall_into_two_clusters():
    pitches = [110, 220, 115, 230, 108, 215, 112, 225]
    pieces, turns, start = [], [], 0.0
    for i, pitch in enumerate(pitches):
        piece = _voice(pitch, 1.2, i)
        pieces += [piece, np.zeros(int(0.4 * RATE), dtype=np.float32)]
        turns.append((start, start + 1.2))
        start += 1.6
    samples = np.concatenate(pieces)
    clusters = cluster_voices([turn_fingerprint(samples, a, b) for a, b in turns])
    assert clusters is not None
    assert len(set(clusters.labels[0::2])) == 1 and len(set(clusters.labels[1::2])) == 1
    assert clusters.labels[0] != clusters.labels[1]
    assert clusters.separation > 2 and min(clusters.margins) > 0.2


def test_too_short_turns_have_no_fingerprint_and_few_turns_no_clusters():
    samples = _voice(150, 3.0, 0)
    assert turn_fingerprint(samples, 0.0, 0.2) is None
    assert cluster_voices([turn_fingerprint(samples, 0.0, 1.0), None, None]) is None
