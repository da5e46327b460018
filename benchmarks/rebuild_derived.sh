#!/usr/bin/env bash
# Rebuild every committed result's derived files from its data, without training (seconds, not minutes; no
# retraining, so no CPU's float rounding can move a run): each compare run's summary.json, summary.md, figures
# and report.html from its scores.csv and curves (`blobs-transfer report`; the headline's and sources' saved
# source models scored again first, `api.rescore_run`), each sweep's cell summaries,
# cells.csv, figures and report.html from its cells' runs.csv (`api.sweep.rebuild_sweep`; a cell keeps no learning
# curves, so its benefits of transfer stay as they were), then the numbers the docs quote
# (benchmarks/docs_numbers.py --write). Use it after a change to the statistics; regenerate_results.sh after a
# change to training. The gate baselines are left alone: their runs are not committed (regenerate_results.sh
# remakes them), and their bands come from the resampling core, which this rebuild does not change.
#
#   bash benchmarks/rebuild_derived.sh            # results/ in place, then the docs' numbers
#   bash benchmarks/rebuild_derived.sh DIR        # a copy of results/ in DIR (the docs are not touched)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
results=${1:-results}
PY=${PYTHON:-$root/.venv/bin/python}

"$PY" -c 'import sys; from blobs_transfer import api; api.report_run(sys.argv[1])' "$results/example"
for name in headline sources; do  # their saved source models scored again, then the report (`api.rescore_run`)
  "$PY" -c 'import sys; from blobs_transfer import api; api.rescore_run(sys.argv[1])' "$results/$name"
done
for name in sweep budget transfusion output-layer optimizer targets transferability; do
  "$PY" -c 'import sys; from blobs_transfer.api.sweep import rebuild_sweep; rebuild_sweep(sys.argv[1])' "$results/$name"
done
for name in targets transferability; do  # every cell's source models scored again, and the study across setups
  "$PY" -m blobs_transfer rank-sources "$results/$name" --out "$results/$name/transferability.csv" > /dev/null
done
if [ $# -eq 0 ]; then
  "$PY" benchmarks/docs_numbers.py --write
fi
echo "rebuilt: $results/example (report), $results/{headline,sources} (scores, report)," \
     "$results/{sweep,budget,transfusion,output-layer,optimizer,targets,transferability} (cells, tables, figures, report)," \
     "$results/{targets,transferability}/transferability.* (scores, the study)"
