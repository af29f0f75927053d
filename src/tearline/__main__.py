"""`python -m tearline` is the `tearline` command."""

from tearline.cli.app import main

main()
