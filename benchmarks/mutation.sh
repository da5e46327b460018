#!/usr/bin/env bash
# Mutation testing (issue 32) with mutmut 3: each module is mutated and run against its own fast tests only.
#
#   bash benchmarks/mutation.sh                       # all eight modules
#   bash benchmarks/mutation.sh stats/resample seeds  # some of them (names as in MODULES below)
#
# Needs `.venv/bin/pip install mutmut` (3.8.1 measured). Environment: MUTATION_JOBS (worker processes, default 2;
# this is a shared 2-core machine), PYTHON (default .venv/bin/python), MUTATION_OUT (where the survivors' diffs
# are written, default a new temporary directory).
#
# The working tree is never touched: the tracked and untracked-but-not-ignored files are copied to a temporary
# directory, a pyproject.toml with a [tool.mutmut] section for the one module is written there, mutmut writes
# its mutants/ folder there, and the copy is deleted at the end.
#
# The table: mutants; killed; survived (mutmut's "survived" and "no tests"); timeout/suspicious; equivalent
# (survivors listed in benchmarks/mutation_equivalent.txt, one line per mutant: "module | mutant | mutation |
# why"); and the kill rate of the non-equivalent mutants, killed / (mutants - equivalent), where a timeout is
# not counted as killed. Every survivor that is not in the triage list is printed with its diff.
#
# train/update runs with NUMBA_DISABLE_JIT=1 (the project's kernel then runs as plain Python,
# blobs_transfer/train/fastmath.py). mutmut 3.8 leaves decorated functions alone, so its @njit `step` is never
# mutated: only `settings` is. The update rules themselves are held by tests/train/test_naive.py (every rule
# against a NumPy reference) and tests/train/test_update_mutants.py, not measured by this table.
# render/findings deselects the one test that builds a small sweep (a ~100 s session fixture, repeated for every
# mutant it covers). Each module's tests also include its "_mutants" test file where one exists
# (tests/<folder>/test_<module>_mutants.py: the tests written to kill that module's survivors).
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$HERE/.venv/bin/python}
PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")
JOBS=${MUTATION_JOBS:-2}
OUT=${MUTATION_OUT:-$(mktemp -d -t mutation-out.XXXXXX)}
EQUIV=$HERE/benchmarks/mutation_equivalent.txt
mkdir -p "$OUT"

# module -> its tests (files or folders, space-separated; files that do not exist are dropped)
declare -A TESTS=(
  [stats/resample]="tests/stats"
  [stats/compare]="tests/stats"
  [stats/nested]="tests/stats"
  [stats/gate]="tests/stats"
  [stats/transferability]="tests/stats"
  [seeds]="tests/test_seeds.py"
  [train/update]="tests/train/test_naive.py"  # not test_kernel.py: one test needs the JIT, two take 95 s
  [render/findings]="tests/render/test_findings.py"
)
MODULES=(stats/resample seeds stats/nested stats/gate stats/compare render/findings train/update stats/transferability)
[ $# -gt 0 ] && MODULES=("$@")

WORK=$(mktemp -d -t mutation-work.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$HERE"
COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '+changes')  # what the copy is taken from
git ls-files -z -co --exclude-standard | grep -zv '^\.venv/' | xargs -0 cp --parents -t "$WORK"
cp pyproject.toml "$WORK/pyproject.orig.toml"

toml_list() { "$PYTHON" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"; }

ROWS=()
start_all=$(date +%s)
for module in "${MODULES[@]}"; do
  [ -n "${TESTS[$module]:-}" ] || { echo "unknown module $module" >&2; exit 2; }
  tests=()
  folder=$(dirname "$module"); [ "$folder" = . ] && folder= || folder="$folder/"
  for t in ${TESTS[$module]} "tests/${folder}test_$(basename "$module")_mutants.py"; do
    [ -e "$WORK/$t" ] && tests+=("$t")
  done
  args=(-m "not slow" -x -q -n 0 -p no:cacheprovider --durations=0 --durations-min=1000)  # -n 0: no xdist workers
  env=()
  case $module in
    train/update) env=(NUMBA_DISABLE_JIT=1) ;;
    render/findings) args+=(--deselect tests/render/test_findings.py::test_sweep_finding_without_comparisons_is_one_line) ;;
  esac
  cd "$WORK"
  rm -rf mutants
  {
    cat pyproject.orig.toml
    echo
    echo "[tool.mutmut]"
    echo "source_paths = [\"blobs_transfer\"]"
    echo "only_mutate = [\"blobs_transfer/$module.py\"]"
    echo "pytest_add_cli_args_test_selection = $(toml_list "${tests[@]}")"
    echo "pytest_add_cli_args = $(toml_list "${args[@]}")"
    echo "also_copy = [\"results\", \"configs\", \"docs\", \"benchmarks\"]"
  } >pyproject.toml
  echo "== $module against ${tests[*]}" >&2
  t0=$(date +%s)
  env "${env[@]}" "$PYTHON" -m mutmut run --max-children "$JOBS" >"$OUT/${module//\//_}.log" 2>&1 || {
    echo "mutmut failed for $module, see $OUT/${module//\//_}.log" >&2
    tail -20 "$OUT/${module//\//_}.log" >&2
    cd "$HERE"
    continue
  }
  t1=$(date +%s)
  "$PYTHON" -m mutmut results --all true >"$OUT/${module//\//_}.results"
  # the survivors' diffs, and the row
  row=$("$PYTHON" - "$module" "$OUT/${module//\//_}.results" "$EQUIV" "$OUT" "$((t1 - t0))" <<'PY'
import subprocess, sys
from collections import Counter
from pathlib import Path

module, results, equiv_path, out, seconds = sys.argv[1:]
status = {}
for line in Path(results).read_text().splitlines():
    if ": " in line:
        name, st = line.strip().rsplit(": ", 1)
        status[name] = st
equivalent = set()
if Path(equiv_path).exists():
    for line in Path(equiv_path).read_text().splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 4 and parts[0] == module:
            equivalent.add(parts[1])
count = Counter(status.values())
survivors = sorted(n for n, st in status.items() if st in ("survived", "no tests"))
listed_killed = sorted(equivalent & {n for n, st in status.items() if st == "killed"})
for name in listed_killed:
    print(f"warning: {name} is listed as equivalent but was killed", file=sys.stderr)
equiv = [n for n in survivors if n in equivalent]
untriaged = [n for n in survivors if n not in equivalent]
with open(Path(out) / (module.replace("/", "_") + ".survivors.diff"), "w") as f:
    for name in survivors:
        diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True, text=True).stdout
        f.write(("EQUIVALENT " if name in equivalent else "UNTRIAGED ") + diff + "\n")
        if name not in equivalent:
            print(f"untriaged survivor {name}:\n{diff}", file=sys.stderr)
total = len(status)
killed = count["killed"]
other = count["timeout"] + count["suspicious"] + count["segfault"]
rate = killed / (total - len(equiv)) if total > len(equiv) else float("nan")
print(f"{module}\t{total}\t{killed}\t{len(survivors)}\t{other}\t{len(equiv)}\t{rate:.1%}\t{len(untriaged)}\t{seconds}")
PY
)
  ROWS+=("$row")
  cd "$HERE"
done
end_all=$(date +%s)

{
  printf '%-24s %8s %7s %9s %17s %11s %10s %10s %7s\n' module mutants killed survived timeout/suspicious equivalent "kill rate" untriaged seconds
  for row in "${ROWS[@]}"; do
    IFS=$'\t' read -r m n k s o e r u sec <<<"$row"
    printf '%-24s %8s %7s %9s %17s %11s %10s %10s %7s\n' "$m" "$n" "$k" "$s" "$o" "$e" "$r" "$u" "$sec"
  done
  echo "kill rate = killed / (mutants - equivalent); commit $COMMIT; $((end_all - start_all)) s; diffs in $OUT"
} | tee "$OUT/table.txt"
