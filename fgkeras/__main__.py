"""`python -m fgkeras` runs the command line."""

import sys

from fgkeras.cli.main import main

sys.exit(main())
