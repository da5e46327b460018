"""The table behind tests/stats/test_nested.py: false-positive rate and CI coverage, nested vs pooled.

Synthetic studies with no true difference (tests/stats/test_nested.py's `simulated_study`): an arm of K
source models x 10 runs with a given ICC against an independent baseline of 30 runs with the same total
variance, as counts of 500 test rows. Nested: the verdict's test (clustered Brunner-Munzel on A12) and the
95% CI of the difference at the source-model level; pooled: the runs taken as independent (Mann-Whitney U
and the plain bootstrap CI), what the tool did before.

    .venv/bin/python benchmarks/simulate_nested.py --studies 1000
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_stats_nested import N_TEST, simulated_study  # noqa: E402

from blobs_transfer import stats  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    args = parser.parse_args()
    print("| ICC | K | nested FPR | nested coverage | pooled FPR | pooled coverage |")
    print("|---|---|---|---|---|---|")
    for icc in (0.5, 0.97):
        for k in (5, 10, 30):
            rng = np.random.default_rng(1000 * k + int(icc * 100))
            counts = np.zeros(4)
            for i in range(args.studies):
                arm, base, groups = simulated_study(rng, k, icc)
                n = stats.nested_compare(
                    arm / N_TEST, base / N_TEST, arm, base, groups, seed=i, n_test=N_TEST, n_resamples=999, a12_ci=False
                )
                p = stats.compare_to_baseline(arm / N_TEST, base / N_TEST, arm, base, seed=i, n_resamples=499)
                counts += [
                    n["verdict_p"] < 0.05,
                    n["diff_ci_low"] <= 0 <= n["diff_ci_high"],
                    p["mwu_p"] < 0.05,
                    p["diff_ci_low"] <= 0 <= p["diff_ci_high"],
                ]
            f = counts / args.studies
            print(f"| {icc} | {k} | {f[0]:.3f} | {f[1]:.3f} | {f[2]:.3f} | {f[3]:.3f} |", flush=True)


if __name__ == "__main__":
    main()
