#!/usr/bin/env bash
# Regenerate every committed result with the code as it is now (root seed 0 everywhere; a few minutes on 2 cores):
# the example run (the README's first command), the headline, the sweeps, the gate baseline. Run from anywhere;
# it replaces results/{example,headline,sources,sweep,budget,transfusion,output-layer}, results/baseline.json and
# results/baseline-tensorflow.json.
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

for name in sweep budget transfusion output-layer; do
  run=$($BT sweep --config "configs/$name.toml" --results-dir "$tmp/$name" | last)
  rm -rf "results/$name" && mv "$run" "results/$name"
done

# the gate's baselines, one per engine (docs/gate.md): the Numba engine's and the TensorFlow engine's
for engine in numba tensorflow; do
  run=$($BT compare --config configs/gate.toml --engine "$engine" --results-dir "$tmp/gate-$engine" --json |
        .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["directory"])')
  out=results/baseline.json; [ "$engine" = numba ] || out="results/baseline-$engine.json"
  $BT baseline "$run" --out "$out"
done
echo "regenerated: results/example, headline, sources, sweep, budget, transfusion, output-layer, baseline.json," \
     "baseline-tensorflow.json"
