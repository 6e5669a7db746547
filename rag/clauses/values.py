"""Normalised values for clause findings, and the rule-based evidence that checks the model.

The extractors in `rag.rules` run first; this module says which of them speaks for which
answer format, turns a model's free-text value into the format the category asks for, and
computes an expiration date from the effective date and the term when both are known.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from rag.clauses.categories import Category
from rag.rules import (
    Found,
    find_dates,
    find_durations,
    find_effective_date,
    find_governing_law,
    find_money,
    find_parties,
    find_title,
    parse_date,
    parse_duration,
)

PERPETUAL = re.compile(r"perpetu|indefinite|until terminated", re.IGNORECASE)


def rule_evidence(category: Category, text: str) -> list[Found]:
    """What the rule-based extractors found for this category in the whole document text."""
    if category.value == "jurisdiction":
        return find_governing_law(text)[:1]
    if category.value == "parties":
        return find_parties(text)
    if category.value == "date" and category.name in ("Agreement Date", "Effective Date"):
        found = find_effective_date(text)
        return [found] if found else []
    if category.name == "Document Name":
        title = find_title(text)
        return [title] if title else []
    return []


def normalise(category: Category, value: str, quotes: Sequence[str], rules: Sequence[Found]) -> str:
    """The answer in the category's format, on one line with plain spaces: PDF text carries no-break
    spaces and line breaks that belong in a verbatim quote, not in a value a table sorts on."""
    return " ".join(_in_format(category, value, quotes, rules).split())


def _in_format(category: Category, value: str, quotes: Sequence[str], rules: Sequence[Found]) -> str:
    words = " ".join([value, *quotes])
    kind = category.value
    if kind == "yes_no":
        return "Yes"
    if kind == "date":
        found = parse_date(value) or parse_date(" ".join(quotes))
        return found.isoformat() if found else (rules[0].value if rules else "")
    if kind == "expiration":
        if PERPETUAL.search(words):
            return "Perpetual"
        found = parse_date(value) or latest_date(" ".join(quotes))
        return found.isoformat() if found else ""
    if kind == "duration":
        duration = parse_duration(value) or parse_duration(" ".join(quotes))
        if duration is None:
            return "Perpetual" if PERPETUAL.search(words) else ""
        successive = "successive " if re.search(r"successive|additional|each", words, re.IGNORECASE) else ""
        return f"{successive}{duration}"
    if kind == "jurisdiction":
        law = find_governing_law(" ".join(quotes)) or list(rules)
        return law[0].value if law else value.strip()
    if kind == "parties":
        names = list(dict.fromkeys(r.value for r in rules)) if rules else []
        return "; ".join(names) or value.strip()
    return value.strip() or (rules[0].value if rules else "")


def latest_date(text: str) -> date | None:
    """The last calendar date a clause names: a term "commencing August 1, 1995 and continuing until
    January 30, 2000" expires on the second."""
    hits = find_dates(text)
    return max(date.fromisoformat(h.value) for h in hits) if hits else None


def values_disagree(category: Category, model_value: str, rules: Sequence[Found]) -> bool:
    """Whether the rules found a different value than the model (dates and governing law only)."""
    if not rules or not model_value:
        return False
    if category.value == "date":
        return all(r.value != model_value for r in rules)
    if category.value == "jurisdiction":
        return all(
            r.value.lower() not in model_value.lower() and model_value.lower() not in r.value.lower() for r in rules
        )
    return False


def unsupported_figures(value: str, quotes: Sequence[str]) -> list[str]:
    """The durations and dollar amounts the model's value states that none of its verified quotes
    states: a real quote beside an invented figure must not be shown as a found clause."""
    quoted = " ".join(quotes)
    backed = {_figure(found) for found in [*find_durations(quoted), *find_money(quoted)]}
    return [found.text for found in [*find_durations(value), *find_money(value)] if _figure(found) not in backed]


def _figure(found: Found) -> str:
    """A comparable form of a hit: '1 year' and 'twelve (12) months' both read `12 months`."""
    duration = parse_duration(found.text) if found.kind == "duration" else None
    return str(duration.in_smaller_unit()) if duration else found.value


def expiration_from_term(effective: str, term_quote: str) -> str:
    """Effective date + initial term ('three (3) years') as an ISO date, or '' when either is unknown."""
    duration = parse_duration(term_quote)
    if not effective or duration is None:
        return ""
    return duration.add_to(date.fromisoformat(effective)).isoformat()
