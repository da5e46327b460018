#!/usr/bin/env bash
# The regression gate as a CI job runs it: the gate study on each engine, then `check` with JUnit and Markdown
# outputs. docs/ci/github-actions.yml and docs/ci/gitlab-ci.yml call this script after installing, and
# tests/conftest.py runs it too (its `gate_study`), so the jobs and the tests run the same commands.
#
#   bash docs/ci/gate.sh          # from the repository root, with blobs-transfer installed
#
# Two gates, one study (configs/gate.toml): on the Numba engine (the default) against results/baseline.json, and
# on the TensorFlow engine against results/baseline-tensorflow.json, so that an upgrade of TensorFlow that
# changes the tutorial's training fails too (the Numba engine uses neither TensorFlow nor Keras; an upgrade of
# Keras alone meets the test suite's exact comparison with model.fit, docs/gate.md). See docs/ci.md.
#
# Settings (environment): GATE_CONFIG (default configs/gate.toml), GATE_ENGINES (default "numba tensorflow"),
# GATE_BASELINE (the Numba gate's, default results/baseline.json), GATE_BASELINE_TENSORFLOW (default
# results/baseline-tensorflow.json), GATE_OUT (default gate/: per engine a folder gate/<engine>/ with the run
# directory under runs/, compare.json, report.html, junit.xml, summary.md).
# Where GITHUB_STEP_SUMMARY is set (GitHub Actions), each gate's Markdown is appended to the job summary.
# Exit code: the worst of the gates' `check`s, 0 all in band, 1 a check moved, 2 an error; every gate runs and
# writes its outputs either way.
set -euo pipefail

config="${GATE_CONFIG:-configs/gate.toml}"
engines="${GATE_ENGINES:-numba tensorflow}"
out="${GATE_OUT:-gate}"
python="${PYTHON:-python3}"

status=0
for engine in $engines; do
  case "$engine" in
    numba) baseline="${GATE_BASELINE:-results/baseline.json}" ;;
    tensorflow) baseline="${GATE_BASELINE_TENSORFLOW:-results/baseline-tensorflow.json}" ;;
    *) echo "gate.sh: no baseline for engine $engine" >&2; exit 2 ;;
  esac
  dir="$out/$engine"
  mkdir -p "$dir"
  echo "== regression gate, $engine engine, against $baseline" >&2
  code=0
  # --json: one JSON object on stdout (the run directory, its verdicts, its report), read here by Python
  if blobs-transfer compare --config "$config" --engine "$engine" --results-dir "$dir/runs" --json > "$dir/compare.json"; then
    run_dir="$("$python" -c 'import json, sys; print(json.load(sys.stdin)["directory"])' < "$dir/compare.json")"
    cp "$run_dir/report.html" "$dir/report.html"
    blobs-transfer check "$run_dir" --baseline "$baseline" --junit "$dir/junit.xml" --markdown "$dir/summary.md" || code=$?
  else
    code=2
  fi
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$dir/summary.md" ]; then
    cat "$dir/summary.md" >> "$GITHUB_STEP_SUMMARY"
  fi
  if [ "$code" -gt "$status" ]; then status=$code; fi
done
exit "$status"
