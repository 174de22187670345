"""# `python -m masterclass.capstone`

The same command as the `capstone` console script; this form is what `torchrun` needs to run the
training stage data-parallel: `torchrun --nproc_per_node=2 -m masterclass.capstone stage train RUN`.
"""

import sys

from masterclass.capstone.cli import main

if __name__ == "__main__":
    sys.exit(main())
