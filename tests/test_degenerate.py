"""The degenerate-reply guard: repeated sentences of any length, with small variations, and header echoes."""

from __future__ import annotations

from rag.llm.degenerate import judge, repetition, without_repeats

LONG = (
    "No Party Deemed Drafter: the parties agree that no party shall be deemed the drafter of this Agreement "
    "and that the Agreement shall not be construed against either party as its drafter, whatever the "
    "circumstances of its negotiation and signature by the authorised officers"
)


def test_a_long_sentence_repeated_is_degenerate_beyond_the_loop_detector():
    assert len(LONG) > 200  # longer than rag.llm.loops.MAX_PERIOD: the loop detector cannot see it
    reply = " ".join(f"[{n}] {LONG}." for n in range(1, 7))
    verdict = judge(reply)
    assert verdict.degenerate and "6 times" in verdict.reason


def test_small_variations_still_count_as_copies():
    variants = [LONG.replace("authorised", word) for word in ("authorized", "duly authorised", "signing")]
    assert repetition(". ".join(variants) + ".")


def test_a_real_answer_is_not_degenerate():
    reply = (
        "Either party may terminate this Agreement for convenience on sixty (60) days' written notice [1]. "
        "Termination does not relieve a party of payments already due [2]. "
        "The licence ends when the Agreement ends [3]."
    )
    assert not judge(reply).degenerate


def test_short_sentences_may_repeat():
    assert not judge("Yes. Yes. Yes. See section 4 for the details of the notice.").degenerate


def test_an_empty_reply_is_degenerate():
    assert judge("  \n ").degenerate


def test_a_reply_echoing_only_the_source_headers_is_degenerate():
    headers = ["[1] Endorsement Agreement, page 3", "[2] Endorsement Agreement, page 7"]
    reply = "[1] Endorsement Agreement, page 3\n[2] Endorsement Agreement, page 7"
    assert judge(reply, headers).degenerate
    assert not judge("The term is two years (Endorsement Agreement, page 3).", headers).degenerate


def test_without_repeats_keeps_one_copy_of_each_sentence():
    summary = f"Headline: an endorsement deal. {LONG}. " + f"{LONG}. " * 14 + "Payment: 5% royalties."
    kept = without_repeats(summary)
    assert kept.count("No Party Deemed Drafter") == 1
    assert kept.startswith("Headline: an endorsement deal.") and kept.endswith("Payment: 5% royalties.")
    assert without_repeats("One sentence only here today.") == "One sentence only here today."
