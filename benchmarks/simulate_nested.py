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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.stats.test_nested import POOLED_STUDIES, misses, simulated_rates  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000, help="studies per setting (the test's: 1000)")
    args = parser.parse_args()
    print(f"{args.studies} studies per setting; pooled: the first {min(POOLED_STUDIES, args.studies)}")
    print("| ICC | K | nested FPR | nested CI coverage | A12 CI coverage | pooled FPR | pooled coverage | criteria |")
    print("|---|---|---|---|---|---|---|---|")
    for icc in (0.5, 0.97):
        for k in (5, 10, 30):
            r = simulated_rates(icc, k, args.studies)
            cells = " | ".join(
                f"{100 * r[c]:.1f}%" for c in ("fpr", "coverage", "a12", "pooled_fpr", "pooled_coverage")
            )
            missed = misses(r, icc)
            print(f"| {icc} | {k} | {cells} | {'MISSED: ' + ', '.join(missed) if missed else 'met'} |", flush=True)


if __name__ == "__main__":
    main()
