"""`python -m arborlab` is the `arbor` command."""

from arborlab.cli import main

main()
