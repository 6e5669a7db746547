"""Clause categories as data: the 41 CUAD categories shipped with Quire, plus a firm's own.

Categories live in TOML so that a firm can add its checklist items without code; each names
the call group it shares with related categories (one model call per group), how its answer
is normalised, and the retrieval query and keyword cues that pick the text the model sees.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from rag.errors import CategoryError

ValueKind = Literal["text", "parties", "date", "expiration", "duration", "jurisdiction", "yes_no"]
VALUE_KINDS: tuple[str, ...] = ("text", "parties", "date", "expiration", "duration", "jurisdiction", "yes_no")
CREDIT = "Categories: CUAD v1 by The Atticus Project, CC BY 4.0 (https://www.atticusproject.org/cuad)."


@dataclass(frozen=True)
class Category:
    name: str
    group: str
    description: str
    answer_format: str
    value: ValueKind
    query: str
    cues: tuple[re.Pattern[str], ...]
    cuad_group: str = "-"


@dataclass(frozen=True)
class CallGroup:
    """Categories answered together in one model call, over one bounded set of passages."""

    id: str
    title: str
    categories: tuple[Category, ...]
    front_chars: int = 0  # the document's opening is always sent for this group (title, parties, date)


@dataclass(frozen=True)
class Catalogue:
    categories: tuple[Category, ...]
    groups: tuple[CallGroup, ...]

    def names(self) -> list[str]:
        return [c.name for c in self.categories]

    def get(self, name: str) -> Category:
        wanted = name.strip().lower()
        for category in self.categories:
            if category.name.lower() == wanted:
                return category
        raise CategoryError(f"unknown clause category {name!r}: `quire clauses --list` shows the known ones")

    def select(self, names: list[str] | None) -> Catalogue:
        """The same catalogue limited to `names` (all when None), groups kept in order."""
        if not names:
            return self
        chosen = {self.get(n).name for n in names}
        categories = tuple(c for c in self.categories if c.name in chosen)
        groups = tuple(
            CallGroup(g.id, g.title, tuple(c for c in g.categories if c.name in chosen), g.front_chars)
            for g in self.groups
        )
        return Catalogue(categories, tuple(g for g in groups if g.categories))


def _category(raw: dict[str, Any], source: str) -> Category:
    try:
        value = raw.get("value", "yes_no")
        if value not in VALUE_KINDS:
            raise CategoryError(f"{source}: category {raw.get('name')!r} has value {value!r}; use one of {VALUE_KINDS}")
        return Category(
            name=str(raw["name"]),
            group=str(raw["group"]),
            description=str(raw["description"]),
            answer_format=str(raw.get("answer_format", "Yes/No")),
            value=value,
            query=str(raw.get("query") or raw["description"]),
            cues=tuple(re.compile(p, re.IGNORECASE) for p in raw.get("cues", [])),
            cuad_group=str(raw.get("cuad_group", "-")),
        )
    except KeyError as error:
        raise CategoryError(f"{source}: a category lacks the field {error.args[0]!r}") from error
    except re.error as error:
        raise CategoryError(f"{source}: category {raw.get('name')!r} has a bad cue pattern: {error}") from error


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CategoryError(f"{source} is not valid TOML: {error}") from error


def build_catalogue(documents: list[tuple[dict[str, Any], str]]) -> Catalogue:
    """Merge category files in order; a later category with the same name replaces the earlier one."""
    group_info: dict[str, dict[str, Any]] = {}
    categories: dict[str, Category] = {}
    for data, source in documents:
        for raw in data.get("group", []):
            group_info[str(raw["id"])] = raw
        for raw in data.get("category", []):
            category = _category(raw, source)
            categories[category.name.lower()] = category
    groups: list[CallGroup] = []
    for gid, raw in group_info.items():
        members = tuple(c for c in categories.values() if c.group == gid)
        if members:
            groups.append(CallGroup(gid, str(raw.get("title", gid)), members, int(raw.get("front_chars", 0))))
    orphans = sorted({c.group for c in categories.values()} - set(group_info))
    if orphans:
        raise CategoryError(f"categories name unknown groups {orphans}: add a [[group]] entry with that id")
    ordered = tuple(c for g in groups for c in g.categories)
    return Catalogue(ordered, tuple(groups))


@lru_cache(maxsize=8)
def load_catalogue(extra: Path | None = None) -> Catalogue:
    """The built-in CUAD categories, plus a firm's own file when given."""
    builtin = resources.files("rag").joinpath("data/cuad_categories.toml").read_text(encoding="utf-8")
    documents = [(_read_toml(builtin, "built-in categories"), "built-in categories")]
    if extra is not None:
        if not extra.is_file():
            raise CategoryError(f"the categories file {extra} does not exist: fix QUIRE_CLAUSES__EXTRA_CATEGORIES")
        documents.append((_read_toml(extra.read_text(encoding="utf-8"), str(extra)), str(extra)))
    return build_catalogue(documents)
