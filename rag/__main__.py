"""`python -m rag`: the `quire` command line, for a checkout without the console script installed."""

from rag.cli.main import main

main()
