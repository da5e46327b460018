"""The gate's verdict in the formats CI systems display: JUnit XML (test reporters) and Markdown (job summaries).

Pure: rows of `gate.check` and the baseline they were checked against in, text out; no files, no TensorFlow.
Both renderers draw their numbers from `gate_table`, the terminal's table, so they say what it says. Each
statistic, and each finding of an arm against the baseline arm (difference of means, P(arm beats it),
verdict), is one JUnit test case, and a moved one fails with the band's stated reason, because a band
calibrated on the source-model level is what a reader of a red CI job needs to judge it. A verdict that
changed to or from "no evidence" passes, and says so.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from blobs_transfer.render.report import markdown_table
from blobs_transfer.stats.gate import UNSET, changed

EXACT_WHY = "counts of runs must match the baseline exactly"
MISSING_WHY = "the baseline has this arm; the run does not"
MISSING_COMPARISON_WHY = "the baseline compares this arm with its baseline arm; the run does not"
VERDICT_WHY = (
    'a verdict may not flip between "better" and "worse"; a move to or from "no evidence" passes, '
    "reported as changed (the difference and P bands guard the finding itself)"
)


def gate_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The gate's rows as a table (header, rows of text): baseline, this run, the change, the tolerance, the result."""

    def f(v):
        return "n/a" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

    header = ["arm", "statistic", "baseline", "this run", "change", "tolerance", "result"]
    out = []
    for r in rows:
        numbers = all(isinstance(r[k], (int, float)) and not isinstance(r[k], bool) for k in ("value", "baseline"))
        change = f"{r['value'] - r['baseline']:+.4g}" if numbers else (r.get("note") or "")
        tolerance = (
            "no flip" if r.get("finding") == "verdict" else "exact" if r["tolerance"] == 0 else f(r["tolerance"])
        )
        result = "MOVED" if not r["ok"] else ("changed" if r.get("note") else "ok")
        out.append([r["arm"], r["statistic"], f(r["baseline"]), f(r["value"]), change, tolerance, result])
    return header, out


def difference(key: str, run_value: Any, baseline_value: Any) -> str:
    """One setting in which a run differs from a baseline's study (`stats.gate.study_differences`), in words."""

    def show(v):
        return "unset" if v is UNSET else repr(v)

    return f"{key} {show(run_value)} (baseline {show(baseline_value)})"


def band_reason(row: dict[str, Any], baseline: dict[str, Any]) -> str:
    """Why the row's band is as wide as it is: the baseline's own `why` for a statistic."""
    finding = row.get("finding")
    if row["statistic"] == "present" or finding == "present":
        return MISSING_WHY if finding is None else MISSING_COMPARISON_WHY
    if finding == "verdict":
        return VERDICT_WHY
    if row["tolerance"] == 0:
        return EXACT_WHY
    entry = (
        baseline.get("findings", {}).get(row["arm"], {}).get(finding, {})
        if finding
        else baseline.get("arms", {}).get(row["arm"], {}).get(row["statistic"], {})
    )
    return entry.get("why", "") if isinstance(entry, dict) else ""


def _band(row: dict[str, Any]) -> str:
    value, tol = row["baseline"], row["tolerance"]
    if row.get("finding") == "verdict":
        return f"{value}, or no evidence"
    if not tol or not isinstance(value, (int, float)):
        return f"exactly {value}"
    return f"{value:.4f} ± {tol:.4f} = [{value - tol:.4f}, {value + tol:.4f}]"


def failure_message(row: dict[str, Any], baseline: dict[str, Any]) -> str:
    """One line: the value, the band, the baseline it came from, and the band's reason."""

    def f(v):
        return "missing" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

    source = baseline.get("source_run", "the baseline")
    return (
        f"{row['arm']} {row['statistic']} = {f(row['value'])}, outside its band {_band(row)} "
        f"(baseline {f(row['baseline'])} from {source}); band: {band_reason(row, baseline)}"
    )


def changed_line(rows: list[dict[str, Any]]) -> str:
    """One sentence on the verdicts that moved to or from "no evidence" (not failures), or ""."""
    notes = changed(rows)
    if not notes:
        return ""
    return (
        "Changed, not failures (a verdict to or from no evidence): "
        + ", ".join(f"{r['arm']} {r['statistic']} {r['note']}" for r in notes)
        + "."
    )


def junit_xml(rows: list[dict[str, Any]], baseline: dict[str, Any], *, run: str, baseline_file: str) -> str:
    """A JUnit XML report: one <testcase> per (arm, statistic), a <failure> for each that moved."""
    header, table = gate_table(rows)
    failures = sum(not r["ok"] for r in rows)
    suites = ET.Element(
        "testsuites", name="blobs-transfer check", tests=str(len(rows)), failures=str(failures), errors="0"
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"blobs-transfer check {run}",
        tests=str(len(rows)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time="0",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run", run),
        ("baseline", baseline_file),
        ("baseline_run", str(baseline.get("source_run", ""))),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for row, cells in zip(rows, table):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"blobs-transfer.check.{row['arm']}",
            name=f"{row['arm']} {row['statistic']}",
            time="0",
        )
        details = (
            "\n".join(f"{h}: {c}" for h, c in zip(header, cells)) + f"\nwhy this band: {band_reason(row, baseline)}"
        )
        if row["ok"]:
            note = f"\nchanged, not a failure: {row['note']}" if row.get("note") else ""
            ET.SubElement(case, "system-out").text = details + note
        else:
            ET.SubElement(
                case, "failure", message=failure_message(row, baseline), type="moved outside its band"
            ).text = details
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def markdown(rows: list[dict[str, Any]], baseline: dict[str, Any], *, run: str, baseline_file: str) -> str:
    """A job-summary table, moved statistics first, then changed verdicts, each with its band's reason."""
    header, table = gate_table(rows)
    moved = [i for i, r in enumerate(rows) if not r["ok"]]
    notes = [i for i, r in enumerate(rows) if r["ok"] and r.get("note")]
    order = moved + notes + [i for i, r in enumerate(rows) if r["ok"] and not r.get("note")]
    body = [
        [*(c.replace("|", "\\|") for c in table[i]), band_reason(rows[i], baseline).replace("|", "\\|")] for i in order
    ]
    body = [[("**MOVED**" if c == "MOVED" else c) for c in r] for r in body]
    if moved:
        verdict = (
            f"**FAILED**: {len(moved)} of {len(rows)} checks moved outside their bands: "
            + ", ".join(f"{rows[i]['arm']} {rows[i]['statistic']}" for i in moved)
            + "."
        )
    else:
        verdict = f"**OK**: all {len(rows)} checks within their bands."
    if notes:
        verdict += " " + changed_line(rows)
    engine = baseline.get("run", {}).get("engine")
    return "\n".join(
        [
            "## blobs-transfer regression gate" + (f": {engine} engine" if engine else ""),
            "",
            verdict,
            "",
            f"Run `{run}` against `{baseline_file}` (made from `{baseline.get('source_run', '?')}`).",
            "",
            markdown_table([*header, "why this band"], body),
            "",
            "Each band is what another draw of the same study may move (see the baseline's `about`); "
            "a statistic outside it means the distribution changed. A verdict fails only when it flips between "
            "better and worse.",
            "",
        ]
    )
