"""Fast tests of clause review without models: categories, candidates, extractors, statuses."""

from __future__ import annotations

import codecs
import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rag.clauses.candidates import select_candidates
from rag.clauses.categories import load_catalogue
from rag.clauses.portfolio import csv_bytes, matrix, rows_of, xlsx_bytes
from rag.clauses.prompt import group_schema
from rag.clauses.report import CSV_FIELDS
from rag.clauses.review import ClauseDocument, reply_tokens, review_document
from rag.clauses.values import normalise, unsupported_figures
from rag.errors import CategoryError
from rag.eval.clauses import jaccard, score_finding
from rag.llm.base import LLMBackend
from rag.rules import Duration, find_governing_law, find_parties, parse_date, parse_duration
from rag.tokens import llama3_token_count
from rag.types import PageSpan
from tests.conftest import CONTRACT_TEXT


class ScriptedBackend(LLMBackend):
    """Replies from a script, one per call; counts tokens with the Llama-3 tokenizer."""

    name = "scripted"
    model = "script"
    num_ctx = 8192

    def __init__(self, replies: list[Any]):
        self.replies = list(replies)
        self.calls: list[list[dict[str, str]]] = []

    def stream_chat(self, messages, *, max_tokens):  # pragma: no cover - not used by clause review
        raise NotImplementedError

    def structured(self, messages, schema, *, max_tokens):
        self.calls.append(messages)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply(schema) if callable(reply) else reply

    def count_tokens(self, text: str) -> int:
        return llama3_token_count(text)


def doc_of(text: str, pages: tuple[PageSpan, ...] | None = None) -> ClauseDocument:
    return ClauseDocument("d1", "msa.txt", text, pages or (PageSpan(1, 0, len(text)),))


def answer(present: bool, quotes: list[str], value: str = "", confidence: str = "high") -> dict[str, Any]:
    return {"present": present, "quotes": quotes, "value": value, "confidence": confidence}


def all_absent(schema: dict[str, Any]) -> dict[str, Any]:
    return {name: answer(False, []) for name in schema["required"]}


def test_catalogue_has_41_cuad_categories_in_call_groups() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.categories) == 41
    assert sum(len(g.categories) for g in catalogue.groups) == 41
    assert catalogue.get("governing law").name == "Governing Law"
    with pytest.raises(CategoryError, match="unknown clause category"):
        catalogue.get("Weather Clause")


def test_cues_match_typographic_quotes_of_pdfs() -> None:
    """PDFs keep curly quotes (the CUAD .txt files straighten them): a defined party name is a cue either way."""
    parties = load_catalogue().get("parties")
    for preamble in ('Acme Corp. (the "Company")', "Acme Corp. (the \u201cCompany\u201d)"):
        assert any(cue.search(preamble) for cue in parties.cues if "the" in cue.pattern)


def test_firm_adds_its_own_category(tmp_path: Path) -> None:
    extra = tmp_path / "firm.toml"
    extra.write_text(
        '[[group]]\nid = "firm"\ntitle = "Firm"\n\n[[category]]\nname = "Data Protection"\ngroup = "firm"\n'
        "description = \"Is personal data processed?\"\ncues = ['personal data']\n",
        encoding="utf-8",
    )
    catalogue = load_catalogue(extra)
    assert len(catalogue.categories) == 42
    assert catalogue.select(["Data Protection"]).groups[0].id == "firm"
    extra.write_text('[[category]]\nname = "X"\ngroup = "nowhere"\ndescription = "x"\n', encoding="utf-8")
    load_catalogue.cache_clear()
    with pytest.raises(CategoryError, match="unknown groups"):
        load_catalogue(extra)


def test_short_document_is_sent_whole_and_long_one_is_bounded() -> None:
    group = load_catalogue().select(["Governing Law", "Anti-Assignment"]).groups[0]
    whole = select_candidates(CONTRACT_TEXT, (PageSpan(1, 0, len(CONTRACT_TEXT)),), group, 2000, llama3_token_count)
    assert whole.whole_document and whole.covers(0, len(CONTRACT_TEXT))
    filler = "\n\n".join(f"{i}. The Supplier shall deliver the goods on time and in good order." for i in range(400))
    text = filler + "\n\n" + CONTRACT_TEXT
    bounded = select_candidates(text, (PageSpan(1, 0, len(text)),), group, 600, llama3_token_count)
    assert not bounded.whole_document
    assert bounded.tokens <= 600
    law = text.index("4.1 This Agreement shall be governed")
    assert bounded.covers(law, law + 100)


def test_extractors() -> None:
    assert parse_date("15 April, 2009") == date(2009, 4, 15)
    assert parse_date("the 5th day of Sept. 2019") == date(2019, 9, 5)
    assert find_governing_law(CONTRACT_TEXT)[0].value == "New York"
    assert [p.value for p in find_parties(CONTRACT_TEXT)][:2] == [
        "Acme Widgets Inc.",
        "Blue River Logistics LLC",
    ]
    assert parse_duration("upon ninety (90) days' written notice") == Duration(90, "day")
    assert parse_duration("for thirty-six months") == Duration(36, "month"), "not thirty: the six belongs to it"
    assert parse_duration("for twenty four months") == Duration(24, "month"), "the unhyphenated form too"
    assert parse_duration("one hundred days") is None, "no number word reads hundreds: better none than one day"
    assert parse_duration("one hundred twenty (120) days") == Duration(120, "day")
    assert Duration(3, "year").add_to(date(2021, 1, 5)) == date(2024, 1, 4)
    for hit in find_governing_law(CONTRACT_TEXT) + find_parties(CONTRACT_TEXT):
        assert CONTRACT_TEXT[hit.start : hit.end] == hit.text
    name = load_catalogue().get("Document Name")
    assert normalise(name, "AGENCY\xa0AGREEMENT\n", ["AGENCY\xa0AGREEMENT"], []) == "AGENCY AGREEMENT"


def test_statuses_from_a_scripted_model() -> None:
    catalogue = load_catalogue().select(["Governing Law", "Cap on Liability", "Audit Rights", "Effective Date"])
    invented = "the laws of the State of Texas shall govern this agreement"

    def reply(schema: dict[str, Any]) -> dict[str, Any]:
        replies = all_absent(schema)
        if "Governing Law" in replies:
            replies["Governing Law"] = answer(True, [invented], "Texas")
        if "Cap on Liability" in replies:
            replies["Cap on Liability"] = answer(
                True, ["aggregate liability exceed the fees paid in the twelve months"]
            )
        return replies

    backend = ScriptedBackend([reply] * len(catalogue.groups))
    report = review_document(doc_of(CONTRACT_TEXT), catalogue, backend, call_tokens=4000)
    law = report.finding("Governing Law")
    assert law.status == "needs_review" and law.value == "New York"  # invented quote dropped, rules shown
    assert all(CONTRACT_TEXT[q.start : q.end] == q.text for f in report.findings for q in f.quotes)
    cap = report.finding("Cap on Liability")
    assert cap.status == "present" and cap.value == "Yes" and cap.quotes[0].page == 1
    audit = report.finding("Audit Rights")
    assert audit.status == "absent" and "whole document" in audit.note
    assert report.finding("Effective Date").status == "needs_review"  # model said absent, the rules found a date
    assert report.finding("Effective Date").value == "2021-01-05"
    assert list(report.csv_rows()[0]) == list(CSV_FIELDS)


def test_invalid_json_is_retried_once_then_flagged() -> None:
    catalogue = load_catalogue().select(["Audit Rights"])
    backend = ScriptedBackend([ValueError("no JSON object in the reply"), all_absent])
    assert review_document(doc_of(CONTRACT_TEXT), catalogue, backend, 4000).finding("Audit Rights").status == "absent"
    assert "previous reply could not be used" in backend.calls[1][-1]["content"]
    backend = ScriptedBackend([ValueError("bad"), {"something": "else"}])
    finding = review_document(doc_of(CONTRACT_TEXT), catalogue, backend, 4000).finding("Audit Rights")
    assert finding.status == "needs_review" and "not valid JSON twice" in finding.note


def test_unreadable_pages_make_absence_not_checked() -> None:
    text = CONTRACT_TEXT + "\n\n"
    pages = (PageSpan(1, 0, len(CONTRACT_TEXT)), PageSpan(2, len(text), len(text), "empty"))
    catalogue = load_catalogue().select(["Audit Rights"])
    finding = review_document(doc_of(text, pages), catalogue, ScriptedBackend([all_absent]), 4000).finding(
        "Audit Rights"
    )
    assert finding.status == "not_checked" and "pages 2" in finding.note


def test_a_figure_its_quotes_do_not_state_is_flagged() -> None:
    """A verbatim quote beside an invented number must not pass as a found clause."""
    catalogue = load_catalogue().select(["Notice Period to Terminate Renewal", "Renewal Term"])

    def reply(schema: dict[str, Any]) -> dict[str, Any]:
        replies = all_absent(schema)
        if "Notice Period to Terminate Renewal" in replies:
            replies["Notice Period to Terminate Renewal"] = answer(True, ["gives ninety (90) days' notice"], "60 days")
        if "Renewal Term" in replies:
            replies["Renewal Term"] = answer(True, ["successive one-year terms"], "12 months")
        return replies

    report = review_document(doc_of(CONTRACT_TEXT), catalogue, ScriptedBackend([reply] * 2), 4000)
    notice = report.finding("Notice Period to Terminate Renewal")
    assert notice.status == "needs_review" and "60 days in the model's answer is not in its quotes" in notice.note
    assert report.finding("Renewal Term").status == "present", "12 months and one year are the same figure"
    assert unsupported_figures("$2 million", ["shall not exceed One Million Dollars ($1,000,000)"]) == ["$2 million"]
    assert unsupported_figures("USD 1,000,000", ["shall not exceed One Million Dollars ($1,000,000)"]) == []


def test_expiration_is_computed_from_effective_date_and_term() -> None:
    catalogue = load_catalogue().select(["Effective Date", "Expiration Date"])
    term = "This Agreement begins on the Effective Date and continues for three (3) years"

    def reply(schema: dict[str, Any]) -> dict[str, Any]:
        replies = all_absent(schema)
        if "Effective Date" in replies:
            replies["Effective Date"] = answer(True, ["entered into as of January 5, 2021"], "01/05/2021")
        if "Expiration Date" in replies:
            replies["Expiration Date"] = answer(True, [term])
        return replies

    report = review_document(doc_of(CONTRACT_TEXT), catalogue, ScriptedBackend([reply, reply]), 4000)
    expiration = report.finding("Expiration Date")
    assert expiration.value == "2024-01-04" and "effective date + term" in expiration.note


def test_span_scoring_and_portfolio() -> None:
    assert jaccard((0, 10), (5, 15)) == pytest.approx(5 / 15)
    score = score_finding([(0, 100)], [(10, 100), (300, 400)], answered=True)
    assert (score.matched_predicted, score.matched_gold, score.missed_documents) == (1, 1, 0)
    assert score_finding([(0, 100)], [], answered=False).missed_documents == 1
    catalogue = load_catalogue().select(["Audit Rights", "Governing Law"])
    report = review_document(doc_of(CONTRACT_TEXT), catalogue, ScriptedBackend([all_absent, all_absent]), 4000)
    rows = rows_of([report])
    header, body = matrix(rows)
    assert header[0] == "document" and body[0][0] == "msa.txt"
    table = csv_bytes(rows)
    assert table.startswith(codecs.BOM_UTF8 + ",".join(CSV_FIELDS).encode()), "a BOM, so spreadsheets read accents"
    assert list(csv.DictReader(io.StringIO(table.decode("utf-8-sig")))) == rows
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx_bytes(rows)))
    assert book.sheetnames == ["Portfolio", "Findings", "About"]


def test_configured_default_categories_apply_only_when_none_are_named() -> None:
    from rag.clauses.stored import catalogue_for
    from rag.settings import ClauseSettings

    configured = ClauseSettings(categories=["Governing Law", "Parties"])
    assert {c.name for c in catalogue_for(configured).categories} == {"Governing Law", "Parties"}
    assert [c.name for c in catalogue_for(configured, ["Audit Rights"]).categories] == ["Audit Rights"]
    assert len(catalogue_for(ClauseSettings()).categories) == 41


def test_an_absent_clause_is_answered_with_present_false_and_nothing_more() -> None:
    """Quotes of an absent clause would be thrown away: the schema closes the entry at once, and a
    found clause must come with a quote."""
    from jsonschema import Draft202012Validator

    group = load_catalogue().groups[0]
    validator = Draft202012Validator(group_schema(group.categories))
    found = {"present": True, "quotes": ["AGENCY AGREEMENT"], "value": "Agency Agreement", "confidence": "high"}
    absent = {"present": False}

    def reply(entry: dict) -> dict:
        return {c.name: entry for c in group.categories}

    assert validator.is_valid(reply(found)) and validator.is_valid(reply(absent))
    assert not validator.is_valid(reply({**absent, "quotes": ["made up"]}))
    assert not validator.is_valid(reply({**found, "quotes": []}))


def test_longest_reply_the_schema_allows_fits_the_reply_budget() -> None:
    """A looping model fills every string to its bound ("1.1.1.1", a token per character); even then
    the JSON closes inside the reserved reply, so it is never cut mid-string (it was, before bounds)."""
    for group in load_catalogue().groups:
        schema = group_schema(group.categories)
        skeleton, string_chars = {}, 0
        for category in group.categories:
            found = schema["properties"][category.name]["anyOf"][1]
            entry = found["properties"]
            quotes = entry["quotes"]["maxItems"]
            skeleton[category.name] = {"present": False, "quotes": [""] * quotes, "value": "", "confidence": "high"}
            string_chars += quotes * entry["quotes"]["items"]["maxLength"] + entry["value"]["maxLength"]
        worst_case = llama3_token_count(json.dumps(skeleton, indent=1)) + string_chars
        assert worst_case <= reply_tokens(group), group.id


def test_eval_scores_saved_reports_without_asking_the_model(tmp_path: Path) -> None:
    """A batch's *.clauses.json are scored by document id; a contract without one is left out."""
    import hashlib

    from rag.clauses.report import ClauseFinding, ClauseQuote, ClauseReport
    from rag.eval.clauses import evaluate_clauses
    from rag.settings import Settings

    sentence = CONTRACT_TEXT.index("governed by")
    gold = (CONTRACT_TEXT.rfind("\n", 0, sentence) + 1, CONTRACT_TEXT.index("\n", sentence))
    (tmp_path / "msa.txt").write_text(CONTRACT_TEXT, encoding="utf-8")
    (tmp_path / "other.txt").write_text(CONTRACT_TEXT.replace("Acme", "Zenith"), encoding="utf-8")
    law = {"Governing Law": {"spans": [{"start": gold[0], "end": gold[1]}]}}
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "".join(json.dumps({"contract": n, "txt": f"{n}.txt", "clauses": law}) + "\n" for n in ("msa", "other")),
        encoding="utf-8",
    )
    quote = ClauseQuote(CONTRACT_TEXT[gold[0] : gold[1]], 1, *gold)
    report = ClauseReport(
        hashlib.sha256((tmp_path / "msa.txt").read_bytes()).hexdigest(), "msa.txt",
        (ClauseFinding("Governing Law", "present", (quote,), "New York"),), "llamacpp", "saved-model",
    )  # fmt: skip
    reports = tmp_path / "out"
    reports.mkdir()
    (reports / "msa.clauses.json").write_text(json.dumps(report.to_json()), encoding="utf-8")
    assert ClauseReport.from_json(report.to_json()) == report

    result = evaluate_clauses(
        Settings().with_data_dir(tmp_path / "d"), labels, None, ["Governing Law"], reports=reports
    )
    assert (result["contracts"], result["without_report"], result["model"]) == (1, ["other"], "saved-model")
    assert result["overall"]["span_recall"] == 1.0 and result["overall"]["span_precision"] == 1.0
