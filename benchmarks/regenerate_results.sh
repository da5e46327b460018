#!/usr/bin/env bash
# Regenerate every committed result with the code as it is now (root seed 0 everywhere; a few minutes on 2 cores):
# the example run (the README's first command), the headline, the sweeps, the gate baseline. Run from anywhere;
# it replaces results/{example,headline,sources,sweep,budget,transfusion,output-layer,optimizer,targets,transferability} results/baseline.json and
# results/baseline-tensorflow.json,
# then the numbers the docs quote from them (benchmarks/docs_numbers.py --write) and the problems figure.
#
# Every command runs in a scratch folder as a user types it there (`blobs-transfer compare --config
# configs/headline.toml`, with configs/ linked in), so the commands and paths each result records are the ones
# the README gives, and name no machine's folders (tests/test_committed_text.py checks).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
BT="$root/.venv/bin/blobs-transfer"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$root/configs" "$tmp/configs"
# run a command in the scratch folder; print the absolute path of the run directory it prints last
in_scratch() { local out; out=$(cd "$tmp" && "$BT" "$@" | tail -n 1); case "$out" in /*) echo "$out" ;; *) echo "$tmp/$out" ;; esac; }

# the example: exactly the README's first command
(cd "$tmp" && "$BT" generate > /dev/null && "$BT" train-source > /dev/null && "$BT" generate > /dev/null)
run=$(in_scratch compare --repeats 30)
rm -rf results/example && mv "$run" results/example
cp -r "$tmp/results/source" results/example/source
mkdir -p results/example/problems
cp "$tmp/results/problems/problems.png" "$tmp/results/problems/decision_regions.png" results/example/problems/

for name in headline sources; do
  run=$(in_scratch compare --config "configs/$name.toml")
  rm -rf "results/$name" && mv "$run" "results/$name"
done

for name in sweep budget transfusion output-layer optimizer; do
  run=$(in_scratch sweep --config "configs/$name.toml")
  rm -rf "results/$name" && mv "$run" "results/$name"
done

# transferability over targets: the sweep, then every cell's source models scored (transferability.csv and .json)
run=$(in_scratch sweep --config configs/targets.toml)
rm -rf results/targets && mv "$run" results/targets
"$BT" rank-sources results/targets --out results/targets/transferability.csv > /dev/null

# which score to trust across 27 setups: the sweep, then rank-sources scores every setup and writes the study
# beside its rows (setups.csv, win_rates.csv, the figures, transferability.html)
run=$(in_scratch sweep --config configs/transferability.toml)
rm -rf results/transferability && mv "$run" results/transferability
"$BT" rank-sources results/transferability --out results/transferability/transferability.csv > /dev/null

# the gate's baselines, one per engine (docs/gate.md): the Numba engine's and the TensorFlow engine's
for engine in numba tensorflow; do
  run=$(cd "$tmp" && "$BT" compare --config configs/gate.toml --engine "$engine" --results-dir "gate-$engine" --json |
        "$root/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["directory"])')
  out=results/baseline.json; [ "$engine" = numba ] || out="results/baseline-$engine.json"
  (cd "$tmp" && "$BT" baseline "$run" --out "$root/$out" > /dev/null)
done

.venv/bin/python benchmarks/docs_numbers.py --write
echo "regenerated: results/example, headline, sources, sweep, budget, transfusion, output-layer, optimizer, targets," \
     "transferability, baseline.json," \
     "baseline-tensorflow.json; docs numbers"
