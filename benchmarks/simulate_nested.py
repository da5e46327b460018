"""The table behind tests/stats/test_nested.py's simulation: false-positive rate and CI coverage, nested vs pooled.

Synthetic studies with no true difference (the test's `simulated_study`): an arm of K source models x 10 runs
with a given ICC against an independent baseline of 30 runs with the same total variance, as counts of 500 test
rows. Nested: the verdict's test and the 95% CIs of the difference and of A12 at the source-model level; pooled:
the runs taken as independent, what the tool did before. The suite runs K = 5 at both ICCs with the criteria
below; this benchmark runs the whole grid and says which settings meet them.

    .venv/bin/python benchmarks/simulate_nested.py --studies 1000
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blobs_transfer import stats  # noqa: E402
from tests.stats.test_nested import N_TEST, POOLED_STUDIES, SIM_RESAMPLES, simulated_study  # noqa: E402


def setting(icc: float, k: int, studies: int) -> dict:
    """The test's loop for one setting (same seeds), as rates."""
    rng = np.random.default_rng(1000 * k + int(icc * 100))
    hits, pooled = np.zeros(3), np.zeros(2)
    n_pooled = min(POOLED_STUDIES, studies)
    for i in range(studies):
        arm, base, groups = simulated_study(rng, k, icc)
        r = stats.compare_to_baseline(
            arm / N_TEST, base / N_TEST, arm, base, seed=i, groups=groups, n_test=N_TEST, n_resamples=SIM_RESAMPLES
        )
        hits += [
            r["verdict_p"] < 0.05,
            r["diff_ci_low"] <= 0 <= r["diff_ci_high"],
            r["a12_ci_low"] <= 0.5 <= r["a12_ci_high"],
        ]
        if i < n_pooled:
            p = stats.compare_to_baseline(arm / N_TEST, base / N_TEST, arm, base, seed=i, n_resamples=499)
            pooled += [p["verdict_p"] < 0.05, p["diff_ci_low"] <= 0 <= p["diff_ci_high"]]
    fpr, coverage, a12 = hits / studies
    return {"fpr": fpr, "coverage": coverage, "a12": a12, "pooled_fpr": pooled[0] / n_pooled,
            "pooled_coverage": pooled[1] / n_pooled}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000, help="studies per setting (the test's: 1000)")
    args = parser.parse_args()
    print(f"{args.studies} studies per setting; pooled: the first {min(POOLED_STUDIES, args.studies)}")
    print("| ICC | K | nested FPR | nested CI coverage | A12 CI coverage | pooled FPR | pooled coverage | criteria |")
    print("|---|---|---|---|---|---|---|---|")
    for icc in (0.5, 0.97):
        for k in (5, 10, 30):
            r = setting(icc, k, args.studies)
            ok = r["fpr"] <= 0.07 and 0.93 <= r["coverage"] <= 0.97 and 0.92 <= r["a12"] <= 0.98
            if icc == 0.97:
                ok = ok and r["pooled_fpr"] > 0.10 and r["pooled_coverage"] < 0.90
            cells = " | ".join(
                f"{100 * r[c]:.1f}%" for c in ("fpr", "coverage", "a12", "pooled_fpr", "pooled_coverage")
            )
            print(f"| {icc} | {k} | {cells} | {'met' if ok else 'MISSED'} |", flush=True)


if __name__ == "__main__":
    main()
