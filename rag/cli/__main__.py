"""`python -m rag.cli`: the same as `python -m rag`, for a checkout without the console script installed."""

from rag.cli.main import main

main()
