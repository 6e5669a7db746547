"""Rule-based extractors that run before the model and check it: dates, durations, money
amounts, governing law and parties.

Each hit keeps its exact [start, end) in the document text, so whatever they contribute is
verbatim by construction. They are deliberately narrow: a miss costs less than a wrong value,
because the model and a person still read the clause.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

MONTHS = {name[:3].lower(): i for i, name in enumerate(calendar.month_name) if name}  # "jan" -> 1
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
DATE_PATTERNS = (
    re.compile(rf"(?P<month>{_MONTH})\s+{_DAY},?\s+{_YEAR}", re.IGNORECASE),  # January 5, 2021
    re.compile(
        rf"{_DAY}\s+(?:day\s+of\s+)?(?P<month>{_MONTH}),?\s+{_YEAR}", re.IGNORECASE
    ),  # 5(th day of) January 2021
    re.compile(r"\b(?P<mnum>[01]?\d)/(?P<day>[0-3]?\d)/(?P<year>(?:19|20)\d\d)\b"),  # 1/5/2021
)
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
NUMBER_WORDS.update(TENS)
DIGITS = {word: NUMBER_WORDS[word] for word in "one two three four five six seven eight nine".split()}
NUMBER_WORDS.update(  # "thirty-six": without it, "thirty-six months" would read as thirty
    {f"{tens}-{digit}": value + DIGITS[digit] for tens, value in TENS.items() for digit in DIGITS}
)
NUMBER_WORDS.update({"a": 1, "an": 1})
_COMPOUND_GAP = r"[\s-]+"  # "twenty-four", "twenty four" and a line break between the two read alike
_NUMBER = (
    r"(?P<num>\d+|"
    + "|".join(word.replace("-", _COMPOUND_GAP) for word in sorted(NUMBER_WORDS, key=len, reverse=True))
    + r")"
)
DURATION = re.compile(
    rf"\b{_NUMBER}(?:\s*\((?P<paren>\d+)\))?[\s-]+(?:(?!hundred|thousand)\w+[\s-]+)?"
    r"(?P<unit>business days?|calendar days?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
MONEY = re.compile(
    r"(?:\bUSD\s?|(?:\bUS\s?)?\$\s?)(?P<amount>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<fraction>\d+))?"
    r"(?:\s*(?P<scale>million|billion)\b)?",
    re.IGNORECASE,
)
GOVERNING_LAW = re.compile(
    r"govern\w*(?:[^.;]{0,120}?)\blaws?\s+of\s+(?:the\s+)?(?:(?:State|Commonwealth|Province)\s+of\s+)?"
    r"(?P<place>[A-Z][A-Za-z]+(?:\s+[A-Z][A-Za-z]+){0,3})",
)
PREAMBLE_PARTIES = re.compile(
    r"\b(?:by\s+and\s+)?between\s+(?P<first>[A-Z][^,(]{2,120}?)\s*(?:,|\(|\band\b)(?P<rest>.{0,600}?)\band\s+"
    r"(?P<second>[A-Z][^,(]{2,120}?)\s*(?:,|\()",
    re.DOTALL,
)
DEFINED_NAME = re.compile(r"\(\s*(?:the\s+|each\s+a\s+)?[\"\u201c](?P<name>[A-Z][^\"\u201d]{1,40})[\"\u201d]")


@dataclass(frozen=True)
class Found:
    """One extracted value and the exact words it came from."""

    kind: str
    start: int
    end: int
    text: str
    value: str


@dataclass(frozen=True)
class Duration:
    count: int
    unit: str  # day, week, month, year

    def __str__(self) -> str:
        return f"{self.count} {self.unit}{'' if self.count == 1 else 's'}"

    def in_smaller_unit(self) -> Duration:
        """Years as months, weeks as days: 'twelve (12) months' and 'one year' say the same thing."""
        if self.unit == "year":
            return Duration(self.count * 12, "month")
        if self.unit == "week":
            return Duration(self.count * 7, "day")
        return self

    def add_to(self, start: date) -> date:
        """The day a term of this length that begins on `start` ends (the day before the anniversary)."""
        from datetime import timedelta

        if self.unit in ("day", "week"):
            return start + timedelta(days=self.count * (7 if self.unit == "week" else 1) - 1)
        months = self.count * (12 if self.unit == "year" else 1)
        year, month = divmod(start.month - 1 + months, 12)
        day = min(start.day, calendar.monthrange(start.year + year, month + 1)[1])
        return date(start.year + year, month + 1, day) - timedelta(days=1)


def _date_of(match: re.Match[str]) -> date | None:
    groups = match.groupdict()
    month = int(groups["mnum"]) if groups.get("mnum") else MONTHS.get(groups["month"][:3].lower(), 0)
    try:
        return date(int(groups["year"]), month, int(groups["day"]))
    except ValueError:
        return None


def find_dates(text: str, base: int = 0) -> list[Found]:
    """Every calendar date written out in `text`, in order, as ISO values."""
    found: dict[int, Found] = {}
    for pattern in DATE_PATTERNS:
        for match in pattern.finditer(text):
            value = _date_of(match)
            if value and match.start() not in found:
                found[match.start()] = Found(
                    "date", base + match.start(), base + match.end(), match.group(), value.isoformat()
                )
    return [found[k] for k in sorted(found)]


def parse_date(text: str) -> date | None:
    """The first date in `text` (for normalising a model's answer)."""
    hits = find_dates(text)
    return date.fromisoformat(hits[0].value) if hits else None


def _duration_of(match: re.Match[str]) -> Duration | None:
    raw = re.sub(_COMPOUND_GAP, "-", (match.group("paren") or match.group("num")).lower())
    count = int(raw) if raw.isdigit() else NUMBER_WORDS.get(raw)
    if count is None:
        return None
    unit = match.group("unit").lower().split()[-1].rstrip("s")
    return Duration(count, unit)


def find_durations(text: str, base: int = 0) -> list[Found]:
    """Spans of time ('three (3) years', '90 days', 'twelve months')."""
    found = []
    for match in DURATION.finditer(text):
        duration = _duration_of(match)
        if duration:
            found.append(Found("duration", base + match.start(), base + match.end(), match.group(), str(duration)))
    return found


def parse_duration(text: str) -> Duration | None:
    match = DURATION.search(text)
    return _duration_of(match) if match else None


def find_money(text: str, base: int = 0) -> list[Found]:
    """Dollar amounts ('$1,000,000', 'US$ 2.5 million', 'USD 500') as `USD 1,000,000.00`."""
    found = []
    for match in MONEY.finditer(text):
        amount = float(f"{match.group('amount').replace(',', '')}.{match.group('fraction') or 0}")
        amount *= {"million": 1e6, "billion": 1e9}.get((match.group("scale") or "").lower(), 1)
        found.append(Found("money", base + match.start(), base + match.end(), match.group(), f"USD {amount:,.2f}"))
    return found


def find_governing_law(text: str, base: int = 0) -> list[Found]:
    """'governed by ... the laws of the State of New York' -> New York, with the clause's sentence."""
    found = []
    for match in GOVERNING_LAW.finditer(text):
        place = re.sub(r"\s+(?:without|and|excluding|applicable|as|in|to|USA)$", "", match.group("place").strip())
        place = place.split("\n")[0].strip()
        start, end = _sentence_around(text, match.start(), match.end())
        found.append(Found("governing_law", base + start, base + end, text[start:end], place))
    return found


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence holding [start, end): from after the previous full stop to the next one."""
    left = max(text.rfind(". ", 0, start), text.rfind("\n\n", 0, start))
    right = text.find(".", end)
    left = 0 if left < 0 else left + 2 if text[left] == "." else left + 2
    right = len(text) if right < 0 else right + 1
    return left, right


def find_parties(text: str, base: int = 0, window: int = 3000) -> list[Found]:
    """Parties named in the opening ('between X, a Delaware corporation, and Y') and their defined names."""
    head = text[:window]
    found: list[Found] = []
    match = PREAMBLE_PARTIES.search(head)
    if match:
        for group in ("first", "second"):
            name = match.group(group).strip()
            start = match.start(group)
            found.append(Found("party", base + start, base + start + len(name), name, name))
        limit = match.end() + 200
        for defined in DEFINED_NAME.finditer(head, match.start(), limit):
            found.append(
                Found(
                    "party",
                    base + defined.start("name"),
                    base + defined.end("name"),
                    defined.group("name"),
                    defined.group("name"),
                )
            )
    return found


def find_effective_date(text: str, window: int = 3000) -> Found | None:
    """The date the opening says the agreement is made or effective, else the first date there."""
    head = text[:window]
    dates = find_dates(head)
    if not dates:
        return None
    for hit in dates:
        before = head[max(0, hit.start - 80) : hit.start].lower()
        if any(cue in before for cue in ("effective", "as of", "dated", "made", "entered into", "this ")):
            return hit
    return dates[0]


def find_title(text: str, window: int = 1500) -> Found | None:
    """The contract's name: the first short line of the opening that names an agreement."""
    offset = 0
    for line in text[:window].splitlines(keepends=True):
        stripped = line.strip()
        if 4 <= len(stripped) <= 90 and re.search(r"agreement|contract", stripped, re.IGNORECASE):
            start = offset + line.index(stripped)
            return Found("title", start, start + len(stripped), stripped, stripped)
        offset += len(line)
    return None
