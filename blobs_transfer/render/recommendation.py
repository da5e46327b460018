"""`rank-sources`' answer in words: a short list by the most reliable score, the realised means beside it, each
score's rho, and one sentence saying which source model to pick and how stable that pick is.

Pure: `api.recommend.recommend`'s dict in, text out. RELIABLE_SCORE and its REASON are what the committed study
across 27 setups (results/transferability/transferability.json) found, REASON in `render.setups.reason`'s words;
tests/test_report_anywhere.py binds both to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blobs_transfer.render.findings import fmt
from blobs_transfer.render.report import format_table
from blobs_transfer.render.transferability import LABELS

RELIABLE_SCORE = "h_score_plain"
REASON = (
    "H-score (plain) ranked the source models best (the highest Spearman rho) more often than any other score in the "
    "committed study of 27 setups (results/transferability, configs/transferability.toml): in 22% [12%, 33%] of them "
    "over the transfer arms, against logistic probe 15%, H-score (shrunk) 14%; not a clear winner, so the next scores"
    " would often pick the same source models."
)


def _rho(entry: dict[str, Any]) -> str:
    low, high = entry["ci"]
    return f"{fmt(entry['rho'], 2)} [{fmt(low, 2)}, {fmt(high, 2)}]"


def text(result: dict[str, Any], *, every: bool = False, top: int = 5) -> str:
    """The answer: the list (top `top` rows, or every row), the scores' rho, then the sentence."""
    score = LABELS.get(result["score"], result["score"])
    rows = result["rows"] if every else result["rows"][:top]
    arms = [] if result["prediction"] else list(rows[0].get("realised", {})) if rows else []
    header = ["rank", "source model", score, *(f"realised mean, {arm}" for arm in arms)]
    body = [
        [str(r["rank"]), Path(r["file"]).name, fmt(r[result["score"]], 4), *(fmt(r["realised"][a]) for a in arms)]
        for r in rows
    ]
    shown = "every one" if every or len(rows) == len(result["rows"]) else f"the top {len(rows)} (--all for every one)"
    kind = "predicted" if result["prediction"] else "scored"
    lines = [
        f"{len(result['rows'])} source models {kind} for transfer to {result['target']} by {score}, before any "
        f"target training; {shown}:",
        format_table(header, body),
        "",
        f"Why {score}: {REASON}",
    ]
    if result["rho"]:
        lines += [
            "",
            "How each score ranked this run's source models (Spearman's rho [95% CI] with the realised mean):",
        ]
        for arm, by_score in result["rho"].items():
            lines.append(f"  {arm}: " + ", ".join(f"{LABELS.get(s, s)} {_rho(e)}" for s, e in by_score.items()))
    lines += ["", sentence(result)]
    return "\n".join(lines)


def sentence(result: dict[str, Any]) -> str:
    """Which source model to pick, and how stable the pick is; for files without runs, that it is a prediction."""
    pick = result["pick"]
    score = LABELS.get(result["score"], result["score"])
    if result["prediction"]:
        return (
            f"Pick {pick['file']}: {score} ranks it first. This is a prediction from the scores alone: no runs of "
            "these source models say how they transfer (rank a compare run's directory to see)."
        )
    return (
        f"Pick {pick['file']}: its runs of {pick['arm']} have the highest realised mean of the {pick['n_sources']} "
        f"source models, {fmt(pick['mean'])}, and it stays first in {pick['first_rate']:.0%} of "
        f"{pick['n_resamples']} resamples of each source model's runs; {score} ranks it {pick['score_rank']} of "
        f"{len(result['rows'])}."
    )
