"""Run the Triton kernels through Triton's interpreter when no CUDA device is present.

Triton decides between compiling and interpreting when a `@triton.jit` function is defined, from
the `TRITON_INTERPRET` environment variable. So the variable is set here, before the test modules
import the kernels; if another test already imported a kernel module without it, that module is
re-executed so that its kernels are defined again as interpreted functions.
"""

import importlib
import os
import sys

import torch

if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"
    for name in [m for m in sys.modules if m.startswith("masterclass.kernels.")]:
        importlib.reload(sys.modules[name])
