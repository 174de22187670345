"""Token statistics of a seeded sample of the standard library's source, made at docs build time.

pandas, matplotlib and seaborn are imported by the functions called here (docs dependencies).
"""

import matplotlib.figure

from masterclass.autograd.token_statistics import (
    clean_tokens,
    stdlib_source_files,
    token_frame,
    token_records,
)
from masterclass.autograd.visualization import plot_token_statistics


def figure() -> matplotlib.figure.Figure:
    """Collect, clean and plot the tokens of 40 standard-library files."""
    tokens = clean_tokens(token_frame(token_records(stdlib_source_files(40, seed=0))))
    return plot_token_statistics(tokens, top=10)
