"""`python -m tryon_cli` runs the `dpidm` command."""

from tryon_cli.cli.main import run

run()
