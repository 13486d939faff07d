"""`python -m fgkeras` runs the command line."""

import sys

from fgkeras.cli import main

sys.exit(main())
