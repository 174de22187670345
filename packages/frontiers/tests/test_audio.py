"""Reference tests for audio features: torch.stft, librosa's mel filterbank, log-mel and MFCC."""

import librosa
import numpy as np
import pytest
import torch

from masterclass.frontiers.audio import (
    hann_window,
    log_mel,
    mel_filterbank,
    mfcc,
    stft,
    train_keyword_classifier,
)


def _signal(seed=0, n=2000):
    return np.random.default_rng(seed).normal(size=n)


@pytest.mark.parametrize("n_fft,hop,center", [(256, 128, True), (200, 80, True), (64, 64, False)])
def test_stft_equals_torch_stft_value_and_gradient(n_fft, hop, center):
    x = torch.from_numpy(_signal()).requires_grad_()
    ours = stft(x, n_fft, hop, center=center)
    ref = torch.stft(
        x,
        n_fft,
        hop,
        window=torch.hann_window(n_fft, dtype=torch.float64),
        center=center,
        return_complex=True,
    )
    # float64 FFTs of the same frames: 1e-10.
    torch.testing.assert_close(ours, ref, atol=1e-10, rtol=0)
    g1 = torch.autograd.grad(ours.abs().square().sum(), x)[0]
    g2 = torch.autograd.grad(ref.abs().square().sum(), x)[0]
    torch.testing.assert_close(g1, g2, atol=1e-8, rtol=1e-10)
    torch.testing.assert_close(hann_window(n_fft), torch.hann_window(n_fft, dtype=torch.float64))


@pytest.mark.parametrize(
    "sr,n_fft,n_mels,fmin,fmax", [(8000, 256, 32, 0.0, None), (16000, 400, 80, 50.0, 7600.0)]
)
def test_mel_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax):
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax).numpy()
    ref = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64
    )
    # Both float64 with the same Slaney formulas: 1e-12 (weights are ~1e-2).
    np.testing.assert_allclose(ours, ref, atol=1e-12, rtol=0)


def test_log_mel_and_mfcc_equal_librosa():
    x = _signal(1)
    kw = dict(sr=8000, n_fft=256, hop_length=128, n_mels=32)
    ref_db = librosa.power_to_db(librosa.feature.melspectrogram(y=x, **kw))
    ours_db = log_mel(torch.from_numpy(x), 8000, 256, 128, 32).numpy()
    # librosa accumulates parts of the mel product in float32: agreement ~1e-6 dB; spec bound 1e-4.
    np.testing.assert_allclose(ours_db, ref_db, atol=1e-4, rtol=0)
    ref_mfcc = librosa.feature.mfcc(y=x, n_mfcc=13, **kw)
    ours_mfcc = mfcc(torch.from_numpy(x), 8000, 256, 128, 32, 13).numpy()
    np.testing.assert_allclose(ours_mfcc, ref_mfcc, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_keyword_classifier_learns_the_synthetic_words():
    _, accuracy = train_keyword_classifier(seed=0)
    assert accuracy >= 0.95, f"held-out accuracy {accuracy:.3f}"


def test_bad_input():
    with pytest.raises(ValueError, match="shorter than n_fft=256"):
        stft(torch.zeros(100), 256, 64, center=False)
    with pytest.raises(ValueError, match="fmin < fmax"):
        mel_filterbank(8000, 256, 32, fmin=5000.0)
