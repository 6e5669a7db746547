"""Parsing: file kinds by content, PDF text layer, passwords, OCR, office formats, hostile files.

Every hostile file must fail alone with a reason a person understands, or give its readable
pages, inside the per-file time limit and under 1.5 GB peak memory."""

from __future__ import annotations

import io
import json
import zlib
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

from ingest.discover import describe
from ingest.ocr import tesseract_path
from ingest.parse import parse_file
from rag.errors import IngestError
from rag.settings import IngestSettings
from tests.conftest import CONTRACT_TEXT, SHARED_DATA, make_pdf, requires_shared_data, run_cli

BAD_PDFS = SHARED_DATA / "bad_pdfs"
SCANNED = SHARED_DATA / "scanned"
needs_tesseract = pytest.mark.skipif(tesseract_path() is None, reason="Tesseract is not installed (make sysdeps)")


def parse(path: Path, password: str | None = None, **limits):
    return parse_file(describe(path), IngestSettings(**limits), password)


# --- documents the tests make ------------------------------------------------------------------
def raw_pdf(objects: list[bytes], root: int) -> bytes:
    """A PDF from numbered object bodies (1-based), with a correct xref table."""
    out = bytearray(b"%PDF-1.5\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def many_pages_pdf(count: int) -> bytes:
    """`count` blank pages sharing one page tree: small on disk, huge to open."""
    kids = b" ".join(b"%d 0 R" % (n + 3) for n in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"] * count
    return raw_pdf(objects, root=1)


def bomb_pdf(decompressed_mb: int) -> bytes:
    """A content stream under two Flate layers that inflates to `decompressed_mb` MB."""
    squeeze = zlib.compressobj(9)
    block = b"0" * (1 << 20)
    inner = b"".join(squeeze.compress(block) for _ in range(decompressed_mb)) + squeeze.flush()
    stream = zlib.compress(inner, 9)
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n" % len(stream) + stream + b"\nendstream",
        ],
        root=1,
    )


def scanned_page(text: str) -> Image.Image:
    """A white page with black text, as a scanner at 150 dpi would give it."""
    image = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=30)
    for row, line in enumerate(text.splitlines()):
        draw.text((100, 120 + row * 48), line, fill=0, font=font)
    return image


def mixed_pdf(path: Path) -> Path:
    """Page 1 has a text layer; page 2 is only an image of text."""
    text_pdf = make_pdf(path.with_name(f".{path.stem}.text.pdf"), [CONTRACT_TEXT.split("ARTICLE 3.")[0]])
    buffer = io.BytesIO()
    scanned_page("ARTICLE 4. GOVERNING LAW\nThis Agreement is governed by the laws\nof the State of New York.").save(
        buffer, format="PDF", resolution=150
    )
    writer = PdfWriter()
    for source in (PdfReader(text_pdf), PdfReader(buffer)):
        writer.append(source)
    writer.write(path)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    path.mkdir()
    return path


# --- kinds by content ----------------------------------------------------------------------------
def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("MASTER SERVICES AGREEMENT", 1)
    document.add_paragraph("4.1 This Agreement shall be governed by the laws of the State of New York.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Fee", "USD 10,000"
    document.save(path)
    return path


def make_eml(path: Path) -> Path:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Signed MSA"
    message.set_content("Hello,\n\nThe MSA is governed by the laws of the State of New York.\n")
    message.add_alternative("<p>Hello,</p><p>The MSA is <b>governed</b> by New York law.</p>", subtype="html")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="msa.pdf")
    path.write_bytes(bytes(message))
    return path


def test_kinds_are_told_by_content_not_extension(folder: Path) -> None:
    make_docx(folder / "contract.pdf")  # a DOCX wearing a .pdf name
    (folder / "page.txt").write_text("<!DOCTYPE html><html><body><p>Hi</p></body></html>")
    make_eml(folder / "mail.txt")
    (folder / "notes.html").write_text("Just words, no markup at all.")
    (folder / "image.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 60)
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "headless.pdf").write_bytes(b"1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    kinds = {path.name: describe(path).kind for path in folder.iterdir()}
    assert kinds["contract.pdf"] == "docx"
    assert kinds["page.txt"] == "html"
    assert kinds["mail.txt"] == "eml"
    assert kinds["notes.html"] == "text"
    assert kinds["headless.pdf"] == "pdf"
    assert "PNG image" in kinds["image.pdf"]
    assert "empty" in kinds["empty.pdf"]


def test_docx_html_and_email_give_their_text(folder: Path) -> None:
    docx_doc = parse(make_docx(folder / "msa.docx"))
    assert "governed by the laws of the State of New York" in docx_doc.text
    assert "Fee | USD 10,000" in docx_doc.text
    html = folder / "msa.html"
    html.write_text(
        "<html><head><title>t</title><style>p{}</style><script>var secret=1;</script></head>"
        "<body><h1>MSA</h1><p>Governed by New York law &amp; nothing else.</p><p>Second.</p></body></html>"
    )
    html_doc = parse(html)
    assert "Governed by New York law & nothing else." in html_doc.text
    assert "secret" not in html_doc.text and "p{}" not in html_doc.text
    assert "\n\n" in html_doc.text  # paragraphs stay apart for chunking
    mail = parse(make_eml(folder / "msa.eml"))
    assert "Subject: Signed MSA" in mail.text and "governed by the laws of the State of New York" in mail.text
    assert "msa.pdf" in mail.text


# --- PDF text layer and passwords --------------------------------------------------------------------
def test_pdf_pages_keep_their_text_and_quality(contract_pdf: Path) -> None:
    doc = parse(contract_pdf)
    assert [page.quality for page in doc.pages] == ["text", "text", "text"]
    third = doc.pages[2]
    assert "governed by and construed" in doc.text[third.start : third.end]


def test_look_alike_characters_of_pdfs_are_stored_as_the_plain_ones(folder: Path) -> None:
    """EDGAR PDFs separate words with U+00A0 and give ";" as U+037E: phrases and quotes must still
    match, and offsets hold (one character for one)."""
    pages = ["This\xa0Agreement\xa0shall\xa0be\xa0governed", "by\xa0the\xa0laws\xa0of\xa0Texas."]
    doc = parse(make_pdf(folder / "nbsp.pdf", pages))
    assert doc.text == "This Agreement shall be governed\n\nby the laws of Texas."
    assert [doc.text[p.start : p.end] for p in doc.pages] == [
        "This Agreement shall be governed",
        "by the laws of Texas.",
    ]
    plain = folder / "nbsp.txt"
    plain.write_text("Governing\xa0Law.\tTexas\u3000law\u2009applies\u202fhere\u037e non\ufffebreaching\n")
    assert parse(plain).text == "Governing Law.\tTexas law applies here; non-breaching\n"


def test_encrypted_pdf_needs_its_password(contract_pdf: Path, folder: Path) -> None:
    writer = PdfWriter(clone_from=contract_pdf)
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="RC4-128")
    locked = folder / "locked.pdf"
    writer.write(locked)
    with pytest.raises(IngestError, match="password-protected"):
        parse(locked)
    with pytest.raises(IngestError, match="password .* wrong"):
        parse(locked, password="nope")
    assert "governed by and construed" in parse(locked, password="s3cret").text


# --- hostile files made here ---------------------------------------------------------------------
def test_zero_byte_and_renamed_png_fail_with_reasons(folder: Path) -> None:
    (folder / "empty.pdf").write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        parse(folder / "empty.pdf")
    png = io.BytesIO()
    Image.new("L", (20, 20), 255).save(png, format="PNG")
    (folder / "photo.pdf").write_bytes(png.getvalue())
    with pytest.raises(IngestError, match="PNG image"):
        parse(folder / "photo.pdf")


def test_twenty_thousand_pages_are_refused_by_the_page_limit(folder: Path) -> None:
    path = folder / "huge.pdf"
    path.write_bytes(many_pages_pdf(20_000))
    with pytest.raises(IngestError, match="20,000 pages, more than the limit of 5,000"):
        parse(path, max_pages=5000, max_seconds=60)


@pytest.mark.slow
def test_decompression_bomb_fails_alone_within_limits(folder: Path) -> None:
    path = folder / "bomb.pdf"
    path.write_bytes(bomb_pdf(2048))  # 2 GB of content behind a few kB
    assert path.stat().st_size < 100_000
    with pytest.raises(IngestError, match="more than 1536 MB"):
        parse(path, max_seconds=60, max_memory_mb=1536)


def test_a_parser_that_runs_too_long_is_stopped(contract_pdf: Path) -> None:
    with pytest.raises(IngestError, match="longer than 0.05 s"):
        parse(contract_pdf, max_seconds=0.05)


def test_memory_cap_turns_into_a_reason(folder: Path) -> None:
    path = folder / "bomb.pdf"
    path.write_bytes(bomb_pdf(512))
    with pytest.raises(IngestError, match="more than 256 MB"):
        parse(path, max_memory_mb=256, max_seconds=60)


# --- OCR ---------------------------------------------------------------------------------------------
@needs_tesseract
@pytest.mark.slow
def test_mixed_pdf_ocrs_only_the_page_without_text(folder: Path) -> None:
    doc = parse(mixed_pdf(folder / "mixed.pdf"))
    first, second = doc.pages
    assert first.quality == "text" and first.confidence is None
    assert second.quality == "ocr" and 0.5 < (second.confidence or 0) <= 1
    assert "governed by the laws" in doc.text[second.start : second.end]


@pytest.mark.slow
def test_image_only_pdf_without_ocr_fails_with_a_reason(folder: Path) -> None:
    path = folder / "scan.pdf"
    scanned_page("Nothing but pixels here.").save(path, format="PDF", resolution=150)
    with pytest.raises(IngestError, match="no text layer .* OCR is off"):
        parse(path, ocr=False)


@needs_tesseract
@pytest.mark.slow
@requires_shared_data()
def test_ocr_of_a_real_scanned_page_is_at_least_95_percent_accurate(folder: Path) -> None:
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Levenshtein

    manifest = json.loads((SCANNED / "manifest.json").read_text())[0]
    writer = PdfWriter()
    writer.append(SHARED_DATA / manifest["pdf"], pages=(0, 1))  # one page keeps the test short
    one_page = folder / "page1.pdf"
    writer.write(one_page)
    doc = parse(one_page)
    assert doc.pages[0].quality == "ocr"
    ocr = " ".join(doc.text.split())
    truth = " ".join((SHARED_DATA / manifest["ground_truth_txt"]).read_text(encoding="utf-8").split())
    window = fuzz.partial_ratio_alignment(ocr, truth[: len(ocr) * 2])
    expected = truth[window.dest_start : window.dest_end]
    assert 1 - Levenshtein.distance(ocr, expected) / len(expected) >= 0.95


# --- the shared hostile corpus -----------------------------------------------------------------------
def _bad_pdfs() -> list[Path]:
    return sorted(BAD_PDFS.glob("*.pdf")) if BAD_PDFS.is_dir() else []


def _password(path: Path) -> str | None:
    """The corpus names passwords in file names: `..._pw-abc.pdf`, `..._user-view_owner-master.pdf`."""
    for marker in ("_pw-", "_user-"):
        if marker in path.stem:
            return path.stem.split(marker, 1)[1].split("_")[0]
    return None


@pytest.mark.slow
@requires_shared_data()
@pytest.mark.parametrize("path", _bad_pdfs(), ids=lambda path: path.name)
def test_every_bad_pdf_reads_its_pages_or_fails_alone(path: Path) -> None:
    try:
        doc = parse(path, max_seconds=30)
    except IngestError as error:
        message = str(error)
        assert message and "Traceback" not in message and len(message) < 400
        password = _password(path)
        if "password-protected" in message and password:
            assert parse(path, password=password, max_seconds=30).text.strip()
    else:
        assert doc.text.strip() and doc.pages


@pytest.mark.slow
@requires_shared_data()
def test_cli_lists_every_bad_file_and_ingests_the_good_ones(tmp_path: Path, folder: Path) -> None:
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "pixels.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 60)
    make_docx(folder / "msa.docx")
    mixed_pdf(folder / "mixed.pdf")
    for bad in ("pdfjs_issue6010_1_encrypted_pw-abc.pdf", "qpdf_issue117_infinite_loop.pdf"):
        (folder / bad).write_bytes((BAD_PDFS / bad).read_bytes())
    done = run_cli("ingest", str(folder), "--json", data_dir=tmp_path / "data", timeout=300)
    assert done.returncode == 2, done.stderr
    results = {d["name"]: d for d in json.loads(done.stdout)["documents"]}
    assert results["msa.docx"]["status"] == "ingested"
    for name in ("empty.pdf", "pixels.pdf", "pdfjs_issue6010_1_encrypted_pw-abc.pdf"):
        assert results[name]["status"] == "failed" and results[name]["error"]
    assert "password-protected" in results["pdfjs_issue6010_1_encrypted_pw-abc.pdf"]["error"]
    assert results["mixed.pdf"]["status"] == "ingested" and results["mixed.pdf"]["pages"] == 2
    if tesseract_path():
        table = run_cli("docs", data_dir=tmp_path / "data", env={"COLUMNS": "200"}).stdout
        row = next(line for line in table.splitlines() if "mixed.pdf" in line)
        cells = [cell.strip() for cell in row.split("│") if cell.strip()]
        assert cells[2:6] == ["2", cells[3], "1", "0"]  # pages, chunks, OCR pages, empty pages
