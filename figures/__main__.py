"""``python -m figures``: the ``regnorm`` command line."""

import sys

from figures.cli import main

sys.exit(main())
