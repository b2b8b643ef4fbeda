"""Telling two voices apart in a mono recording, with numpy alone.

No offline speaker-embedding model ships on PyPI without torch, so each turn gets a small
fingerprint instead: the mean and spread of its log-mel energies (24 bands, 80 Hz to 3.8 kHz,
so 8 kHz telephone audio works too) over its louder frames, and its median pitch. Two-means clustering of
the fingerprints says which turns share a voice; :mod:`roles` then decides which voice is the
rep's from what the turns say. The separation of the two clusters is reported, so a call with
two similar voices leans on the words instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

RATE = 16_000
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 24
LOW_HZ, HIGH_HZ = 80.0, 3800.0
# Frames quieter than this below the turn's loudest frame are pauses or breaths.
VOICED_RANGE_DB = 30.0
MIN_TURN_S = 0.5
# Pitch is repeated so that, after standardisation, it weighs as much as this many bands.
PITCH_WEIGHT = 8


@dataclass(frozen=True)
class VoiceClusters:
    """Per turn: the voice cluster (0 or 1) and how clearly it belongs there (0–1);
    ``separation`` = distance of the cluster centres / mean spread within clusters."""

    labels: tuple[int, ...]
    margins: tuple[float, ...]
    separation: float


@lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    def mel(hz):
        return 2595 * np.log10(1 + hz / 700)

    def hz(m):
        return 700 * (10 ** (m / 2595) - 1)

    points = hz(np.linspace(mel(LOW_HZ), mel(HIGH_HZ), N_MELS + 2))
    bins = np.floor((N_FFT + 1) * points / RATE).astype(int)
    filters = np.zeros((N_MELS, N_FFT // 2 + 1))
    for band in range(N_MELS):
        left, centre, right = bins[band], bins[band + 1], bins[band + 2]
        filters[band, left:centre] = (np.arange(left, centre) - left) / max(1, centre - left)
        filters[band, centre:right] = (right - np.arange(centre, right)) / max(1, right - centre)
    return filters


def turn_fingerprint(samples: np.ndarray, start_s: float, end_s: float, first_sample: int = 0) -> np.ndarray | None:
    """Mean and standard deviation of log-mel energies over the turn's voiced frames.
    ``first_sample``: the recording's sample that ``samples`` starts at (a window of it)."""
    segment = samples[max(0, int(start_s * RATE) - first_sample):max(0, int(end_s * RATE) - first_sample)]
    if len(segment) < MIN_TURN_S * RATE:
        return None  # too little speech for a reliable fingerprint
    count = 1 + (len(segment) - FRAME) // HOP
    index = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    frames = segment[index] * np.hanning(FRAME)
    power = np.abs(np.fft.rfft(frames, n=N_FFT)) ** 2
    log_mel = np.log(power @ _mel_filters().T + 1e-10)
    energy_db = 10 * np.log10(power.sum(axis=1) + 1e-12)
    loud = energy_db >= energy_db.max() - VOICED_RANGE_DB
    voiced = log_mel[loud]
    # Pitch: the strongest autocorrelation lag between 60 and 400 Hz, per loud frame; the
    # median over the turn separates most voices (and male from female) on its own.
    autocorrelation = np.fft.irfft(power[loud], n=N_FFT)
    low_lag, high_lag = RATE // 400, RATE // 60
    lags = low_lag + np.argmax(autocorrelation[:, low_lag:high_lag], axis=1)
    pitch = np.log(RATE / np.median(lags))
    return np.concatenate([voiced.mean(axis=0), voiced.std(axis=0), [pitch] * PITCH_WEIGHT])


def cluster_voices(fingerprints: list[np.ndarray | None], iterations: int = 25) -> VoiceClusters | None:
    """Two-means over the turns' fingerprints (None for turns too short to measure).

    Initialised by splitting the turns along their first principal component, not from the
    two most distant turns: one odd short turn ("Right.") would otherwise become a cluster
    of its own.
    """
    known = [i for i, fp in enumerate(fingerprints) if fp is not None]
    if len(known) < 4:
        return None
    data = np.stack([fingerprints[i] for i in known])
    data = (data - data.mean(axis=0)) / (data.std(axis=0) + 1e-6)
    _u, _s, components = np.linalg.svd(data, full_matrices=False)
    projection = data @ components[0]
    assignment = (projection > np.median(projection)).astype(int)
    for _ in range(iterations):
        if min(np.bincount(assignment, minlength=2)) == 0:
            return None
        centres = np.stack([data[assignment == k].mean(axis=0) for k in (0, 1)])
        updated = np.argmin(np.linalg.norm(data[:, None, :] - centres[None, :, :], axis=2), axis=1)
        if np.array_equal(updated, assignment):
            break
        assignment = updated
    to_centres = np.linalg.norm(data[:, None, :] - centres[None, :, :], axis=2)
    spread = np.mean(np.min(to_centres, axis=1)) + 1e-6
    separation = float(np.linalg.norm(centres[0] - centres[1]) / spread)
    labels = [0] * len(fingerprints)
    margins = [0.0] * len(fingerprints)
    for row, turn in enumerate(known):
        near, far = sorted(to_centres[row])
        labels[turn] = int(np.argmin(to_centres[row]))
        margins[turn] = float((far - near) / (far + near))
    return VoiceClusters(tuple(labels), tuple(round(m, 3) for m in margins), round(separation, 3))
