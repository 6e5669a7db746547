"""The `quire` command line: one module per command group, sharing the console and service in `common`."""
