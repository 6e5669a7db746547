"""The overnight batch: a plan of steps per file, a journal that makes it resumable, and the morning report."""
