r"""# Exercises: Audio processing: STFT, mel spectrograms and MFCCs

The mel scale, counting STFT frames, and the orthonormal DCT behind MFCCs."""

import math

import librosa
import numpy as np
import scipy.fft
import torch

from masterclass.frontiers.audio import stft


def solution_1_hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    return np.where(
        f >= 1000, 15 + np.log(np.maximum(f, 1e-10) / 1000) / (math.log(6.4) / 27), 3 * f / 200
    )


def check_1_hz_to_mel(fn) -> None:
    f = np.array([0.0, 100.0, 999.0, 1000.0, 2500.0, 8000.0])
    got, want = np.asarray(fn(f)), librosa.hz_to_mel(f)
    assert np.allclose(got, want, atol=1e-9), (
        f"hz_to_mel({f.tolist()}) = {got}, librosa says {want}"
    )


def solution_2_frame_count(n_samples, n_fft, hop, center):
    if center:
        n_samples += 2 * (n_fft // 2)
    return 1 + (n_samples - n_fft) // hop


def check_2_frame_count(fn) -> None:
    for n, n_fft, hop, center in [
        (2000, 256, 128, True),
        (2000, 256, 100, False),
        (513, 64, 7, True),
    ]:
        want = stft(torch.zeros(n, dtype=torch.float64), n_fft, hop, center=center).shape[-1]
        got = fn(n, n_fft, hop, center)
        assert got == want, (
            f"frame_count({n}, {n_fft}, {hop}, center={center}) = {got}, stft gives {want}"
        )


def solution_3_dct_ii_ortho(x):
    x = np.asarray(x, dtype=np.float64)
    N = x.shape[-1]
    j = np.arange(N)
    basis = np.cos(np.pi * j[None, :] * (2 * j[:, None] + 1) / (2 * N))
    scale = np.full(N, math.sqrt(2 / N))
    scale[0] = math.sqrt(1 / N)
    return (x @ basis) * scale


def check_3_dct_ii_ortho(fn) -> None:
    x = np.random.default_rng(0).normal(size=(3, 17))
    got, want = np.asarray(fn(x)), scipy.fft.dct(x, type=2, norm="ortho", axis=-1)
    assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
    assert np.allclose(got, want, atol=1e-10), "differs from scipy.fft.dct(x, norm='ortho')"
