r"""# Audio processing: STFT, mel spectrograms and MFCCs

A microphone gives a one-dimensional signal, thousands of samples a second. Speech and music live
in how its *frequency content changes over time*, so nearly every audio model (Whisper, wav2vec's
feature front end, keyword spotters) starts by turning the waveform into a time-frequency image.

**Short-time Fourier transform.** Cut the signal $x$ into overlapping frames of $n$ samples every
$h$ samples, taper each frame by a window $w$ (Hann: $w_j = \tfrac12 - \tfrac12\cos(2\pi j / n)$,
the periodic form), and take its DFT:

$$ X[m, k] = \sum_{j=0}^{n-1} w_j\, x[m h + j]\, e^{-2\pi i jk/n}, \qquad k = 0..n/2. $$

The window trades leakage for resolution: a rectangular cut smears every tone over all frequencies,
Hann's smooth ends confine it to a few bins. With `center=True` the signal is first padded by
$n/2$ on each side so that frame $m$ is centred on sample $mh$.

**The mel scale.** Pitch perception is roughly linear below 1 kHz and logarithmic above. The
Slaney mel scale (librosa's default) is exactly that: $m(f) = 3f/200$ below 1000 Hz and
$m(f) = 15 + 27\, \ln(f/1000)/\ln 6.4$ above. A mel filterbank is $M$ triangles whose corners are
equally spaced in mel between $f_{min}$ and $f_{max}$; triangle $i$ rises from corner $i$ to corner
$i+1$ and falls to corner $i+2$, and Slaney normalisation scales it by $2/(f_{i+2} - f_i)$ so that
every filter has the same area. The mel spectrogram is $S = F\, |X|^2$, `(M, frames)`.

**Log compression and MFCCs.** Loudness is perceived logarithmically, so features are
$10 \log_{10}\max(S, a)$ dB, clipped to 80 dB below the maximum. MFCCs decorrelate the log-mel
bands with a DCT-II (orthonormal) and keep the first coefficients: a smooth summary of the
spectral envelope, the classic speech feature.

Each step equals its reference: `stft` equals `torch.stft`; `mel_filterbank`, `log_mel` and `mfcc`
equal `librosa` to 1e-4 or better (tests).

![Spectrogram and log-mel of a rising chirp](figures/spectrograms.png)

**A keyword classifier.** `synth_keywords` synthesises five "words" (a low tone, a high tone, a
rising chirp, a falling chirp, a two-tone beep) with random pitch, timing and noise;
`train_keyword_classifier` learns a linear classifier on their log-mel images. Rising and falling
chirps have the same average spectrum, so only the time axis separates them.

References: Allen, *Short term spectral analysis, synthesis, and modification by discrete Fourier
transform*, 1977; Slaney, *Auditory toolbox*, 1998; Davis and Mermelstein, *Comparison of
parametric representations for monosyllabic word recognition*, 1980 (MFCC); McFee et al., librosa,
2015; Radford et al., Whisper, 2022, https://arxiv.org/abs/2212.04356.

Left out: the inverse STFT (overlap-add), the HTK mel variant, pitch tracking, learned front ends
(wav2vec 2.0) and data augmentation (SpecAugment).

>>> fb = mel_filterbank(sr=8000, n_fft=256, n_mels=20)
>>> fb.shape, bool((fb >= 0).all())
(torch.Size([20, 129]), True)

## Exercises

1. Write `hz_to_mel(f)` (Slaney) and check it against `librosa.hz_to_mel`.
   Check it: `uv run pytest --exercise frontiers.audio`
2. Write `frame_count(n_samples, n_fft, hop, center)`: how many STFT frames a signal yields.
   Check it: `uv run pytest --exercise frontiers.audio`
3. Write `dct_ii_ortho(x)` along the last axis, equal to `scipy.fft.dct(x, norm="ortho")`.
   Check it: `uv run pytest --exercise frontiers.audio`
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def hann_window(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    r"""Periodic Hann window $\tfrac12 - \tfrac12 \cos(2\pi j/n)$, $j = 0..n-1$."""
    j = torch.arange(n, dtype=dtype)
    return 0.5 - 0.5 * torch.cos(2 * math.pi * j / n)


def stft(
    x: Tensor, n_fft: int, hop: int, *, center: bool = True, pad_mode: str = "reflect"
) -> Tensor:
    """Complex STFT `(..., n_fft // 2 + 1, frames)` of signals `x` `(..., n)` with a Hann window."""
    if n_fft <= 0 or hop <= 0:
        raise ValueError(f"n_fft and hop must be positive, got n_fft={n_fft}, hop={hop}")
    if center:
        # Pad n/2 on both sides so that frame m is centred on sample m * hop.
        shape = x.shape
        x = F.pad(x.reshape(-1, 1, shape[-1]), (n_fft // 2, n_fft // 2), mode=pad_mode)
        x = x.reshape(*shape[:-1], -1)
    if x.shape[-1] < n_fft:
        raise ValueError(f"signal of {x.shape[-1]} samples is shorter than n_fft={n_fft}")
    frames = x.unfold(-1, n_fft, hop)  # (..., frames, n_fft)
    spectrum = torch.fft.rfft(frames * hann_window(n_fft, x.dtype), dim=-1)  # (..., frames, n/2+1)
    return spectrum.transpose(-1, -2)


# ## The mel filterbank
#
# Corners: $M + 2$ points equally spaced in mel, mapped back to Hz. For each FFT bin frequency
# $f_k = k\, sr / n$ the rising edge of triangle $i$ is $(f_k - f_i)/(f_{i+1} - f_i)$ and the
# falling edge $(f_{i+2} - f_k)/(f_{i+2} - f_{i+1})$; the filter is the smaller of the two, floored
# at 0.


def hz_to_mel(f: Tensor) -> Tensor:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    log_step = math.log(6.4) / 27.0
    linear = 3.0 * f / 200.0
    return torch.where(
        f >= 1000.0, 15.0 + torch.log(f.clamp_min(1e-10) / 1000.0) / log_step, linear
    )


# The inverse, branch by branch: 15 mel is the 1 kHz knee, where the two pieces meet.
def mel_to_hz(m: Tensor) -> Tensor:
    """Inverse of `hz_to_mel`."""
    log_step = math.log(6.4) / 27.0
    return torch.where(m >= 15.0, 1000.0 * torch.exp(log_step * (m - 15.0)), 200.0 * m / 3.0)


# The filterbank is a fixed matrix: multiplied onto a power spectrum `(K, frames)`, it sums each
# band's bins with triangular weights.
def mel_filterbank(
    sr: float, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> Tensor:
    """Slaney-normalised triangular filters `(n_mels, n_fft // 2 + 1)`, as `librosa.filters.mel`."""
    fmax = sr / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sr / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sr/2 = {sr / 2}, got fmin={fmin}, fmax={fmax}")
    # The bin frequencies, and the M + 2 corners equally spaced in mel between `fmin` and `fmax`:
    # triangle i rises from corner i to corner i + 1 and falls to corner i + 2. All in float64.
    freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sr / n_fft  # (K,)
    lo, hi = (
        hz_to_mel(torch.tensor(fmin, dtype=torch.float64)),
        hz_to_mel(torch.tensor(fmax, dtype=torch.float64)),
    )
    corners = mel_to_hz(
        torch.linspace(float(lo), float(hi), n_mels + 2, dtype=torch.float64)
    )  # (M+2,)
    # Both edges for every filter and bin at once, by broadcasting; Slaney's normalisation then
    # divides each triangle by half its width in Hz, so every filter has the same area.
    widths = corners.diff()  # (M+1,)
    offsets = corners[:, None] - freqs[None, :]  # (M+2, K)
    rising = -offsets[:-2] / widths[:-1, None]  # (M, K)
    falling = offsets[2:] / widths[1:, None]  # (M, K)
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return filters * (2.0 / (corners[2:] - corners[:-2]))[:, None]


# The log-mel spectrogram: power spectrum, mel bands, decibels, and a floor `top_db` below the
# signal's own peak, which limits the dynamic range.
def log_mel(
    x: Tensor,
    sr: float,
    n_fft: int,
    hop: int,
    n_mels: int,
    *,
    top_db: float = 80.0,
    pad_mode: str = "constant",
) -> Tensor:
    """Log-mel spectrogram in dB `(..., n_mels, frames)`, as `librosa.power_to_db(melspectrogram)`.

    The dB floor is per signal: 80 dB below that signal's maximum.
    """
    power = stft(x, n_fft, hop, pad_mode=pad_mode).abs() ** 2  # (..., K, frames)
    mel = mel_filterbank(sr, n_fft, n_mels).to(power.dtype) @ power  # (..., M, frames)
    db = 10.0 * torch.log10(mel.clamp_min(1e-10))
    peak = db.amax(dim=(-1, -2), keepdim=True)
    return torch.maximum(db, peak - top_db)


# MFCCs: a DCT-II over the log-mel bands of each frame decorrelates them, and the first few
# coefficients keep the spectral envelope. The DCT is a product with a cosine basis matrix,
# coefficient 0 scaled by sqrt(1/N) and the others by sqrt(2/N), which makes it orthonormal.
def dct_ii(x: Tensor) -> Tensor:
    r"""Orthonormal DCT-II along the last axis: $y_k = s_k \sum_j x_j \cos(\pi k (2j+1) / 2N)$."""
    N = x.shape[-1]
    j = torch.arange(N, dtype=x.dtype)
    basis = torch.cos(math.pi * j[None, :] * (2 * j[:, None] + 1) / (2 * N))  # (N_j, N_k)
    scale = torch.full((N,), math.sqrt(2.0 / N), dtype=x.dtype)
    scale[0] = math.sqrt(1.0 / N)
    return (x @ basis) * scale


def mfcc(x: Tensor, sr: float, n_fft: int, hop: int, n_mels: int, n_mfcc: int) -> Tensor:
    """The first `n_mfcc` DCT coefficients of the log-mel bands, `(..., n_mfcc, frames)`."""
    return dct_ii(log_mel(x, sr, n_fft, hop, n_mels).transpose(-1, -2))[..., :n_mfcc].transpose(
        -1, -2
    )


# ## Synthetic keywords
#
# Each "word" is 0.25 s at 8 kHz: a tone or a linear chirp (instantaneous frequency
# $f_0 + (f_1 - f_0) t / T$, phase its integral), with a random onset, a Hann envelope and noise.

KEYWORDS = ("low tone", "high tone", "rising chirp", "falling chirp", "two-tone")


def synth_keywords(
    n: int, *, sr: int = 8000, seconds: float = 0.25, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """`n` waveforms `(n, sr * seconds)` and their keyword ids `(n,)` into `KEYWORDS`."""
    rng = np.random.default_rng(seed)
    L = int(sr * seconds)
    t = np.arange(L) / sr
    waves = np.zeros((n, L))
    labels = rng.integers(0, len(KEYWORDS), n)
    # Each example draws its own low and high frequency from fixed ranges: a class is a pitch range
    # and a shape (steady, rising, falling, two tones), never one exact frequency.
    for i, k in enumerate(labels):
        f_lo, f_hi = rng.uniform(300, 600), rng.uniform(1800, 2800)
        if k == 0:
            f0 = f1 = f_lo
        elif k == 1:
            f0 = f1 = f_hi
        elif k == 2:
            f0, f1 = f_lo, f_hi
        else:
            f0, f1 = f_hi, f_lo
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
        sig = np.sin(phase)
        if k == 4:
            sig = np.sin(2 * np.pi * f_lo * t) + np.sin(2 * np.pi * f_hi * t)
        # A Hann envelope of random length at a random onset, a random loudness, and white noise.
        env = np.zeros(L)
        start, length = rng.integers(0, L // 4), rng.integers(L // 2, 3 * L // 4)
        env[start : start + length] = np.hanning(length)
        waves[i] = env * sig * rng.uniform(0.3, 1.0) + 0.05 * rng.normal(size=L)
    return torch.from_numpy(waves).float(), torch.from_numpy(labels)


# The features are whole log-mel images flattened into vectors; training and test sets come from
# different seeds.
def train_keyword_classifier(steps: int = 150, *, seed: int = 0) -> tuple[nn.Module, float]:
    """A linear classifier on normalised log-mel images; returns it and its held-out accuracy."""
    torch.manual_seed(seed)
    sr, n_fft, hop, n_mels = 8000, 256, 128, 32

    def features(w: Tensor) -> Tensor:
        return log_mel(w.double(), sr, n_fft, hop, n_mels).float().flatten(1)  # (n, M * frames)

    x_train, y_train = synth_keywords(400, seed=seed)
    x_test, y_test = synth_keywords(200, seed=seed + 1)
    f_train, f_test = features(x_train), features(x_test)
    # Standardise with the training set's statistics only.
    mean, std = f_train.mean(), f_train.std()
    f_train, f_test = (f_train - mean) / std, (f_test - mean) / std
    model = nn.Linear(f_train.shape[1], len(KEYWORDS))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        loss = F.cross_entropy(model(f_train), y_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = (model(f_test).argmax(-1) == y_test).float().mean().item()
    return model, accuracy
