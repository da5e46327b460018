#!/usr/bin/env bash
# Look at every kind of report as a reader sees it: screenshots in headless Chromium (Debian's `chromium`,
# `apt-get install -y chromium`; not needed by CI) of
#   compare-k1.png      a compare run from one source model (tiny: 2 runs per arm, 3 epochs), in a temporary folder
#   compare-k100.png    the committed results/headline (K = 100), its report rebuilt with this checkout's words
#                       (`blobs-transfer report` on a copy: no number moves, nothing in the repository changes)
#   sweep.png           the committed results/sweep/report.html
#   gate.png            the gate's Markdown (`check --markdown`) of the tiny run against its own baseline, rendered
# Usage: benchmarks/look.sh [OUT]   (OUT: a folder outside the repository, default: a new temporary folder, printed at the end)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$(mktemp -d -t blobs-look.XXXX)}"
case "$(realpath -m "$OUT")/" in "$ROOT"/*) echo "OUT must be outside the repository: $OUT" >&2; exit 2 ;; esac
BT="${BT:-$ROOT/.venv/bin/blobs-transfer}"
PY="${PY:-$ROOT/.venv/bin/python}"
CHROMIUM="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$CHROMIUM" ] || { echo "no chromium: apt-get update && apt-get install -y chromium" >&2; exit 2; }
mkdir -p "$OUT"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

shot() {  # shot PAGE PNG [HEIGHT]
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,"${3:-4000}" \
        --screenshot="$OUT/$2" "file://$1" >/dev/null 2>&1
    echo "$OUT/$2"
}

# compare, one source model
"$BT" train-source --epochs 3 --results-dir "$WORK/results" >/dev/null
RUN="$("$BT" compare --repeats 2 --epochs 3 --results-dir "$WORK/results" 2>/dev/null | tail -1)"
shot "$RUN/report.html" compare-k1.png 6000

# compare, 100 source models: the committed run, its report rebuilt here
cp -r "$ROOT/results/headline" "$WORK/headline"
"$BT" report "$WORK/headline" >/dev/null
shot "$WORK/headline/report.html" compare-k100.png 9000

# sweep
shot "$ROOT/results/sweep/report.html" sweep.png 9000

# gate Markdown, rendered (headings, tables, paragraphs: all the gate writes)
"$BT" baseline "$RUN" --out "$WORK/baseline.json" >/dev/null
"$BT" check "$RUN" --baseline "$WORK/baseline.json" --markdown "$WORK/gate-markdown.txt" >/dev/null || true
"$PY" - "$WORK/gate-markdown.txt" "$WORK/gate.html" <<'EOF'
import html, re, sys
lines, out, table = open(sys.argv[1]).read().splitlines(), [], []
def flush():
    if table:
        rows = [r for r in table if not re.fullmatch(r"\|[-:| ]+\|", r)]
        cells = [[html.escape(c.strip()) for c in r.strip("|").split("|")] for r in rows]
        out.append("<table>" + "".join("<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{c}</{'th' if i == 0 else 'td'}>" for c in r) + "</tr>" for i, r in enumerate(cells)) + "</table>")
        table.clear()
for line in lines:
    if line.startswith("|"):
        table.append(line); continue
    flush()
    m = re.match(r"(#+) (.*)", line)
    out.append(f"<h{len(m.group(1))}>{html.escape(m.group(2))}</h{len(m.group(1))}>" if m else f"<p>{html.escape(line)}</p>" if line.strip() else "")
flush()
style = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}td,th{border:1px solid #ccc;padding:3px 6px}table{border-collapse:collapse}"
open(sys.argv[2], "w").write(f"<!doctype html><meta charset=utf-8><style>{style}</style>" + "\n".join(out))
EOF
shot "$WORK/gate.html" gate.png 3000
