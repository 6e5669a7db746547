"""Time from pressing Enter to the first evidence on screen, in a real browser, on the demo backend.

The 30 dev contracts (the shared CUAD `.txt` files) are ingested into a scratch store; `streamlit run
app.py` serves them with the built-in demo model (Ollama pointed at a closed port); Debian Chromium,
driven by Playwright, asks each question on a fresh Ask page and waits for the first evidence box.
The reply is capped at a few tokens (QUIRE_LLM__MAX_ANSWER_TOKENS) so that one question's reply does
not still run while the next one is timed: the evidence never waits for the reply either way.

    python bench/evidence_latency.py [--questions 20]

Prints p50 / p95 / max and writes bench/results/evidence_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_ui_browser import CHROMIUM, CHROMIUM_ARGS, streamlit_app  # noqa: E402

SHARED = Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "bench" / "results" / "evidence_latency.json"


def questions(count: int) -> list[str]:
    tests = json.loads((SHARED / "legalbench_rag_queries.json").read_text(encoding="utf-8"))["tests"]
    return [t["query"] for t in tests[:count]]


def app_env(data_dir: Path) -> dict[str, str]:
    """The demo backend (Ollama at a closed port), a short reply, the dev contracts ingested."""
    env = {**os.environ, "QUIRE_DATA_DIR": str(data_dir), "QUIRE_LLM__OLLAMA_HOST": "http://127.0.0.1:9",
           "QUIRE_LLM__MAX_ANSWER_TOKENS": "16"}  # fmt: skip
    subprocess.run([sys.executable, "-m", "rag", "ingest", str(SHARED / "contracts")], env=env, check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    return env


def time_questions(url: str, asked: list[str]) -> list[float]:
    """Seconds from Enter to the first evidence box (or the no-evidence note), one fresh page each."""
    from playwright.sync_api import sync_playwright

    seconds = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(180_000)
        for number, question in enumerate(asked, start=1):
            page.goto(f"{url}/ask")
            box = page.locator('[data-testid="stChatInputTextArea"]')
            box.wait_for()
            box.fill(question)
            began = time.perf_counter()
            box.press("Enter")
            page.locator(
                '[class*="st-key-evidence-1-0"], :text("No passage of the documents matches")'
            ).first.wait_for()
            seconds.append(time.perf_counter() - began)
            print(f"{number:2d}  {seconds[-1]:.2f}s  {question[:70]}", flush=True)
            page.get_by_text("In view:").first.wait_for()  # the short reply ends before the next question
        browser.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit("Debian chromium is missing: run `make sysdeps`")
    with tempfile.TemporaryDirectory() as scratch:
        with streamlit_app(app_env(Path(scratch) / "data"), Path(scratch) / "streamlit.log") as url:
            seconds = time_questions(url, questions(args.questions))
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    result = {"questions": len(seconds), "p50_s": round(statistics.median(seconds), 3), "p95_s": round(p95, 3),
              "max_s": round(max(seconds), 3), "seconds": [round(s, 3) for s in seconds],
              "load": os.getloadavg()}  # fmt: skip
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "seconds"}))


if __name__ == "__main__":
    main()
