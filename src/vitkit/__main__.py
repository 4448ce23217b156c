"""``python -m vitkit`` (and ``torchrun -m vitkit``) runs the command line."""

import sys

from .cli.main import main

sys.exit(main())
