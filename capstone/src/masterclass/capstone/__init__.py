"""# masterclass.capstone

The final project: one command, `capstone`, that trains a small language model on a corpus
(the Python standard library by default, or your own files), evaluates it against classical
baselines, quantizes it, exports it to ONNX and Hugging Face formats, benchmarks it and writes a
report. Each stage is a chapter; `pipeline` runs them in order, `cli` is the command.
"""

from masterclass.capstone.config import RunConfig, build_config, preset
from masterclass.capstone.pipeline import open_run, run_pipeline, run_stage, start_run
from masterclass.capstone.run_folder import CapstoneError, RunFolder

__all__ = [
    "CapstoneError",
    "RunConfig",
    "RunFolder",
    "build_config",
    "open_run",
    "preset",
    "run_pipeline",
    "run_stage",
    "start_run",
]
