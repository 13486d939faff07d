"""The `fgkeras` command line: one module per subcommand, thin over the library."""

from fgkeras.cli.main import main

__all__ = ["main"]
