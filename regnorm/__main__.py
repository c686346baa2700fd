"""``python -m regnorm`` is not the command line: that lives on the top floor, in ``figures``."""

import sys

print(
    "regnorm: error: the command line is 'regnorm' or 'python -m figures' "
    "(python -m regnorm is the library and runs nothing)",
    file=sys.stderr,
)
sys.exit(2)
