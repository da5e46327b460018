"""Installed, not only cloned (issue 33): the wheel holds every package, the committed configs (named without a
path: `--config headline`) and the glossary reports carry; installed into a fresh venv and run in an empty
folder, it runs the README's steps (slow: builds and installs the wheel once)."""

import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from blobs_transfer.config import load_config
from blobs_transfer.config.load import resolve_config
from blobs_transfer.train.engine import KERNEL_DIR_ENV
from tests.helpers import ROOT, invoke, last_line_dir


def test_the_wheel_lists_every_package_and_ships_the_configs():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "blobs_transfer").rglob("__init__.py")}
    assert set(tool["packages"]) == found | {"blobs_transfer.configs"}
    assert tool["package-dir"] == {"blobs_transfer.configs": "configs"}
    assert tool["package-data"]["blobs_transfer.render"] == ["glossary.md"]


def test_a_committed_config_can_be_named_without_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # from any folder
    assert resolve_config("headline").samefile(ROOT / "configs" / "headline.toml")
    assert load_config("headline") == load_config(ROOT / "configs" / "headline.toml")
    assert resolve_config("nope") == Path("nope")


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_venv_runs_the_study_in_an_empty_folder(tmp_path):
    """pip wheel ., then a fresh venv that takes its dependencies from the test venv (a .pth, so nothing is
    downloaded) and the package from the wheel alone; every command in an empty folder. The install starts with
    a cold kernel cache: the first command compiles the kernel into the installed package and says so once, the
    later ones load it silently, and the numbers are the clone's (compiled and cached code agree)."""
    started = time.time()
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", wheels],
        check=True,
        capture_output=True,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir())
    (site / "test-deps.pth").write_text(f"{deps}\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, *wheels.glob("*.whl")],
        check=True,
        capture_output=True,
    )
    here = tmp_path / "empty"
    here.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", KERNEL_DIR_ENV)}
    stderr = []

    def run(*args):
        done = subprocess.run(
            [venv / "bin" / "python", "-m", "blobs_transfer", *map(str, args)],
            cwd=here,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        stderr.append(done.stderr)
        return done.stdout

    origin = subprocess.run(
        [venv / "bin" / "python", "-c", "import blobs_transfer; print(blobs_transfer.__file__)"],
        cwd=here,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(origin).is_relative_to(site), origin  # the wheel's copy, not the clone's
    assert run("--version").startswith("blobs-transfer 0.1.0, commit unknown")
    run("train-source", "--epochs", 2)
    one = run("compare", "--repeats", 30, "--epochs", 2).strip().splitlines()[-1]
    many = run("compare", "--config", "headline", "--repeats", 1, "--source-repeats", 3, "--epochs", 2)
    many = many.strip().splitlines()[-1]
    assert "stays first in" in run("rank-sources", many)
    run("baseline", one, "--out", "b.json")
    run("check", one, "--baseline", "b.json")
    run("report", many)
    assert sorted(p.name for p in here.iterdir()) == ["b.json", "results"]
    # the kernel: compiled by the first command that trains (train-source), said once, cached in the install
    said = [i for i, err in enumerate(stderr) if "compiling the training kernel" in err]
    assert said == [1] and stderr[1].count("compiling the training kernel") == 1, stderr
    assert list((site / "blobs_transfer" / "train" / "_kernels" / "__pycache__").glob("*.nbi"))
    # the same study in this process, on this session's cached kernel: the same bytes
    assert invoke("train-source", "--epochs", 2, "--results-dir", tmp_path / "clone").exit_code == 0
    clone = invoke("compare", "--repeats", 30, "--epochs", 2, "--results-dir", tmp_path / "clone")
    clone = last_line_dir(clone, tmp_path / "clone")
    assert (clone / "scores.csv").read_bytes() == (here / one / "scores.csv").read_bytes()
    print(f"wheel built, installed and run in {time.time() - started:.0f} s")
