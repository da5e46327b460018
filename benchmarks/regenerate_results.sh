#!/usr/bin/env bash
# Regenerate every committed result with the code as it is now (root seed 0 everywhere; a few minutes on 2 cores):
# the example run (the README's first command), the headline, the sweeps, the gate baseline. Run from anywhere;
# it replaces results/{example,headline,sources,sweep,budget,transfusion,output-layer,optimizer,targets} and results/baseline.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BT=.venv/bin/blobs-transfer
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
last() { tail -n 1; }

# the example: exactly the README's first command, in a scratch copy of results/
$BT generate --results-dir "$tmp/results" > /dev/null
$BT train-source --results-dir "$tmp/results" > /dev/null
run=$($BT compare --repeats 30 --results-dir "$tmp/results" | last)
rm -rf results/example && mv "$run" results/example
cp -r "$tmp/results/source" results/example/source
mkdir -p results/example/problems && cp "$tmp/results/problems/problems.png" results/example/problems/

run=$($BT compare --config configs/headline.toml --results-dir "$tmp/headline" | last)
rm -rf results/headline && mv "$run" results/headline

run=$($BT compare --config configs/sources.toml --results-dir "$tmp/sources" | last)
rm -rf results/sources && mv "$run" results/sources

for name in sweep budget transfusion output-layer optimizer; do
  run=$($BT sweep --config "configs/$name.toml" --results-dir "$tmp/$name" | last)
  rm -rf "results/$name" && mv "$run" "results/$name"
done

# transferability over targets: the sweep, then every cell's source models scored (transferability.csv and .json)
run=$($BT sweep --config configs/targets.toml --results-dir "$tmp/targets" | last)
rm -rf results/targets && mv "$run" results/targets
$BT rank-sources results/targets --out results/targets/transferability.csv > /dev/null

run=$($BT compare --config configs/gate.toml --results-dir "$tmp/gate" | last)
$BT baseline "$run" --out results/baseline.json
echo "regenerated: results/example, headline, sources, sweep, budget, transfusion, output-layer, optimizer, targets, baseline.json"
