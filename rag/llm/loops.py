"""Spot a reply that has fallen into a loop ("LLC, LLC, LLC, ...") so it can be stopped and trimmed.

Small models decoding greedily often repeat a word or a sentence until the reply budget runs
out: the user would read the same words hundreds of times, and on a CPU the loop costs most of
the call's time. A reply "loops" when its tail is one unit of 2-120 characters repeated enough
times to fill at least `MIN_LOOP_CHARS` (and at least three copies), and the unit has a letter
or digit: a contract's dot leaders, blank signature lines and "[***]" redaction tables repeat
too, and a reply quoting them is not looping.
"""

from __future__ import annotations

MIN_PERIOD = 2  # a single repeated character is a rule or a dot leader, not a loop
MAX_PERIOD = 120
MIN_COPIES = 3
MIN_LOOP_CHARS = 60


def loop_start(text: str) -> int | None:
    """Where the repetition begins after its first copy, when `text` ends in a loop; else None."""
    for period in range(MIN_PERIOD, MAX_PERIOD + 1):
        copies = max(MIN_COPIES, -(-MIN_LOOP_CHARS // period))
        if len(text) < period * copies:
            continue
        unit = text[-period:]
        if not any(c.isalnum() for c in unit) or not text.endswith(unit * copies):
            continue
        start = len(text) - period * copies
        while start >= period and text[start - period : start] == unit:
            start -= period
        return start + period
    return None


def without_loop(text: str) -> str:
    """`text` with a looping tail cut back to one copy of what it repeated."""
    start = loop_start(text)
    return text if start is None else text[:start].rstrip()
