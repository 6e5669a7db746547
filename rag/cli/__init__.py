"""The `quire` command line: one module per command group, sharing the console and service in `common`.

Entry point: `main.app` (`main.main` for the console script, `python -m rag`).
"""
