#!/usr/bin/env bash
# The regression gate as a CI job runs it: the gate study, then `check` with JUnit and Markdown outputs.
# docs/ci/github-actions.yml and docs/ci/gitlab-ci.yml call this script after installing, and
# tests/render/test_gate.py runs it too (on a shrunken gate study), so the jobs and the test run the same commands.
#
#   bash docs/ci/gate.sh          # from the repository root, with blobs-transfer installed
#
# Settings (environment): GATE_CONFIG (default configs/gate.toml), GATE_BASELINE (default results/baseline.json),
# GATE_OUT (default gate/: the run directory under runs/, report.html, junit.xml, summary.md).
# Where GITHUB_STEP_SUMMARY is set (GitHub Actions), the Markdown is appended to the job summary.
# Exit code: check's, 0 all in band, 1 a statistic moved, 2 an error; the outputs are written either way.
set -euo pipefail

config="${GATE_CONFIG:-configs/gate.toml}"
baseline="${GATE_BASELINE:-results/baseline.json}"
out="${GATE_OUT:-gate}"
mkdir -p "$out"

blobs-transfer compare --config "$config" --results-dir "$out/runs" | tee "$out/compare.txt"
run_dir="$(tail -n 1 "$out/compare.txt")"
cp "$run_dir/report.html" "$out/report.html"

status=0
blobs-transfer check "$run_dir" --baseline "$baseline" --junit "$out/junit.xml" --markdown "$out/summary.md" || status=$?
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/summary.md" ]; then
  cat "$out/summary.md" >> "$GITHUB_STEP_SUMMARY"
fi
exit "$status"
