"""Spectrogram and log-mel spectrogram of a synthetic rising chirp."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from masterclass.frontiers.audio import KEYWORDS, log_mel, stft, synth_keywords


def figure():
    """Left: |STFT| in dB of a rising chirp; right: its 32-band log-mel spectrogram."""
    waves, labels = synth_keywords(50, seed=0)
    x = waves[list(labels).index(KEYWORDS.index("rising chirp"))].double()
    spec = 20 * stft(x, 256, 64).abs().clamp_min(1e-6).log10()
    mel = log_mel(x, 8000, 256, 64, 32)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.imshow(spec, origin="lower", aspect="auto", extent=(0, 0.25, 0, 4000), cmap="magma")
    ax1.set(xlabel="time (s)", ylabel="frequency (Hz)", title="|STFT| (dB), Hann window 256")
    ax2.imshow(mel, origin="lower", aspect="auto", extent=(0, 0.25, 0, 32), cmap="magma")
    ax2.set(xlabel="time (s)", ylabel="mel band", title="log-mel (dB): high bands are wider in Hz")
    fig.tight_layout()
    return fig
