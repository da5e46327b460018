"""The commands a user waits for do not import scipy.stats (issue 35: it costs over half a second of every
compare's start). Each command runs in a fresh interpreter, as a user starts it, and reports whether
scipy.stats is in sys.modules when it ends. The package's statistics take their t and normal distributions from
scipy.special and write scipy.stats' tests out (tests/stats/test_scipy_forms.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.helpers import TINY, write

# Commands that still import scipy.stats, and through what; each entry is owed a fix, and this test fails when a
# command listed here stops importing it (then delete the entry) or one not listed starts.
STILL_IMPORTING: dict[str, str] = {}

PROBE = """
import json, sys
from blobs_transfer.cli import cli
try:
    cli({args!r}, standalone_mode=False)
finally:
    print(json.dumps({{"scipy.stats": "scipy.stats" in sys.modules}}))
"""


@pytest.mark.slow  # five commands, each in a process of its own
def test_commands_do_not_import_scipy_stats(results_dir, tiny_run, tiny_baseline, tmp_path):
    (tmp_path / "results").mkdir()
    shutil.copytree(results_dir / "source", tmp_path / "results" / "source")  # the 2-epoch source model
    sweep = write(
        tmp_path, '[study]\nsource_repeats = 2\nrepeats = 2\n[training]\nepochs = 2\n[sweep]\n"target.n_train" = [20]\n'
    )
    commands = {
        "compare": ["compare", *TINY, "--results-dir", "results"],
        "fit": ["fit", "--epochs", 2, "--results-dir", "results"],
        "sweep": ["sweep", "--config", sweep, "--results-dir", "results"],
        "check": ["check", tiny_run, "--baseline", tiny_baseline],
        "rank-sources": [
            "rank-sources",
            results_dir / "source" / "problem1.keras",
            "--problem",
            2,
            "--out",
            tmp_path / "scores.csv",
        ],
    }
    running = {
        name: subprocess.Popen(
            [sys.executable, "-c", PROBE.format(args=[str(a) for a in args])],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    imported = set()
    for name, process in running.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, (name, err[-2000:])
        if json.loads(out.strip().splitlines()[-1])["scipy.stats"]:
            imported.add(name)
    assert imported == set(STILL_IMPORTING)
