"""Which score to trust, in words (blobs_transfer.render.setups): each sentence follows the numbers it is made
from, and docs/predictions.md's prose about the committed study holds for it."""

import json
import re
from pathlib import Path

import pytest

from blobs_transfer.render import setups as words
from blobs_transfer.stats.setups import ALL_ARMS

ROOT = Path(__file__).resolve().parents[2]
ARM = "transfer fixed=0"


def rate(arm, score, win, ci, rank=2.0, verdict="inconclusive", beats=0.5):
    return {
        "arm": arm,
        "score": score,
        "win_rate": win,
        "win_rate_ci": list(ci),
        "beats_reference": beats,
        "beats_reference_ci": [beats, beats],
        "mean_rank": rank,
        "mean_rank_ci": [rank, rank],
        "mean_rho": 0.5,
        "mean_rho_ci": [0.4, 0.6],
        "rho_diff": 0.0,
        "rho_diff_ci": [0.0, 0.0],
        "p_diff": None if verdict is None else 0.5,
        "p_diff_holm": None if verdict is None else 0.9,
        "verdict": verdict,
    }


def block(best_ci=(0.5, 0.8)):
    rows = []
    for arm in (ARM, ALL_ARMS):
        rows += [
            rate(arm, "logme", 0.6, best_ci, rank=1.5, verdict="better", beats=0.9),
            rate(arm, "probe_accuracy", 0.3, (0.1, 0.5), verdict=None),
            rate(arm, "leep", 0.1, (0.0, 0.2), rank=3.0, verdict="worse"),
        ]
    return {"n_setups": 4, "reference": "probe_accuracy", "margin": 0.1, "best": "logme", "win_rates": rows}


def cell(n, t, rhos, ceiling=0.9):
    """One setup with one arm: its scores' rho."""
    return {
        "values": {"target.n_train": n, "target.similarity_t": t},
        "agreement": {ARM: {s: {"rho": r} for s, r in rhos.items()}},
        "setups": {
            ARM: {
                "ceiling": ceiling,
                "reliability": ceiling**2,
                "dead_units_rho": 0.2,
                "partial_rho": {s: r - 0.1 for s, r in rhos.items()},
            }
        },
    }


CELLS = [
    cell(50, 0.0, {"logme": 0.2, "probe_accuracy": 0.6, "leep": 0.1}),  # the probe wins where t = 0
    cell(50, 1.0, {"logme": 0.8, "probe_accuracy": 0.5, "leep": 0.1}),
    cell(500, 0.0, {"logme": 0.3, "probe_accuracy": 0.7, "leep": 0.1}),
    cell(500, 1.0, {"logme": 0.7, "probe_accuracy": 0.4, "leep": 0.1}, ceiling=0.7),
]
KEYS = ["target.n_train", "target.similarity_t"]


def test_trust_says_trust_only_when_the_winner_is_clear():
    clear = words.trust_sentence(block(best_ci=(0.45, 0.8)))
    assert clear.startswith("Trust LogME: over 4 setups and their 1 transfer arms")
    assert "60% [45%, 80%]" in clear and "next: logistic probe, 30% [10%, 50%]" in clear
    assert "its CI clears the runner-up's rate" in clear and "mean rank is 1.5 of 3" in clear
    unclear = words.trust_sentence(block(best_ci=(0.25, 0.8)))
    assert unclear.startswith("The best bet is LogME") and "not a clear winner" in unclear


def test_loses_names_the_key_value_where_the_trusted_score_does_worst_and_who_wins_there():
    sentence = words.loses_sentence(KEYS, CELLS, block())
    assert "it is not the best in any arm of 2 of the 4 setups" in sentence
    assert "It does worst with t = 0.00, where it is the best in 0% of the setups' arms" in sentence
    assert "there logistic probe wins most often (100%)" in sentence


def test_ceiling_and_beyond_are_the_means_over_the_setups():
    ceiling = words.ceiling_sentence(CELLS, block())
    assert "LogME's mean rho over the setups' arms is 0.50" in ceiling
    assert "mean noise ceiling of 0.85" in ceiling and "0.70 to 0.90 across setups" in ceiling
    assert "0.35 below it on average, reaching 59% of it" in ceiling
    assert "dead units alone reaches a mean rho of 0.20" in ceiling
    assert "from 0.50 to 0.40" in words.beyond_sentence(CELLS, block())


def test_probe_sentence_groups_by_verdict_and_counts_the_comparisons():
    sentence = words.probe_sentence(block())
    assert "Holm-adjusted over all 4 comparisons" in sentence
    assert sentence.endswith("better: LogME; worse: LEEP.")


def test_reason_cites_the_study_and_its_rates():
    reason = words.reason(block(best_ci=(0.45, 0.8)))
    assert reason.startswith("LogME ranked the source models best") and "study of 4 setups" in reason
    assert "in 60% [45%, 80%] of them" in reason and "logistic probe 30%, LEEP 10%; a clear winner." in reason
    assert words.reason(block(best_ci=(0.2, 0.8))).endswith(
        "not a clear winner, so the next scores would often pick the same source models."
    )


def test_short_keys_say_which_problem():
    assert [words.short_key(k) for k in ("target.similarity_t", "target.n_train", "source.cluster_std")] == [
        "t",
        "n",
        "source sd",
    ]


@pytest.fixture(scope="module")
def committed():
    study = json.loads((ROOT / "results" / "transferability" / "transferability.json").read_text())
    text = (ROOT / "docs" / "predictions.md").read_text()
    section = text[text.index("## Which score to trust, across 27 setups") :]
    return study, section[section.index("What this changes") :]


def test_the_prose_about_the_committed_study_holds(committed):
    study, prose = committed
    block, cells = study["study"], study["cells"]
    ranked = sorted(
        (r for r in block["win_rates"] if r["arm"] == ALL_ARMS), key=lambda r: (-r["win_rate"], r["mean_rank"])
    )
    assert block["n_setups"] == 27 and len(cells) == 27
    # "the plain H-score wins most often and the probe next, but their intervals overlap; no score wins a majority"
    assert [r["score"] for r in ranked[:2]] == ["h_score_plain", "probe_accuracy"]
    assert ranked[0]["win_rate_ci"][0] <= ranked[1]["win_rate"] and ranked[0]["win_rate"] < 0.5
    # "every setup's ceiling is above 0.75, most near 1"
    ceilings = [s["ceiling"] for c in cells for s in c["setups"].values()]
    assert min(ceilings) > 0.75 and sorted(ceilings)[len(ceilings) // 2] > 0.95
    # "LEEP, NCE, N-LEEP, GBC, TransRate and the source's own accuracy rank ... worse than the probe"
    worse = {words.label(r["score"]) for r in ranked if r["verdict"] == "worse"}
    named = re.search(
        r"\*\*The output-layer scores and the newer feature scores fall behind\.\*\* (.*?) rank", prose, re.S
    )
    listed = {" ".join(n.split()) for n in re.split(r",| and ", named.group(1)) if n.strip()}
    assert {n.replace("the source's own accuracy", "source accuracy") for n in listed} == worse


def test_a_setup_where_the_trusted_score_ties_for_first_is_not_one_it_lost():
    tied = [*CELLS, cell(100, 1.0, {"logme": 0.6, "probe_accuracy": 0.6, "leep": 0.1})]
    assert "not the best in any arm of 2 of the 5 setups" in words.loses_sentence(KEYS, tied, block())
