"""What every command shares (blobs_transfer.api.common): the progress callback of a phase, the default results
folder, the Numba engine's thread limit set before any work, and text written atomically."""

from pathlib import Path

from blobs_transfer.api import common
from blobs_transfer.config import Config
from blobs_transfer.train import engine


def test_a_phase_reports_its_label_and_total_with_each_step():
    calls = []
    step = common.phase(lambda label, n, total: calls.append((label, n, total)), "training", 100)
    step(1)
    step(3)
    assert calls == [("training", 1, 100), ("training", 3, 100)]
    assert common.phase(None, "training", 100) is None  # no callback: nothing to call per epoch


def test_the_engine_is_set_up_with_its_thread_limit(monkeypatch):
    monkeypatch.delenv(engine.THREADS_ENV, raising=False)
    try:
        common.prepare_engine(Config(), threads=2)
        assert engine.default_threads() == 2
        common.prepare_engine(Config())  # no limit given: the one set stays
        assert engine.default_threads() == 2
    finally:
        engine.set_threads(None)


def test_text_is_written_atomically(tmp_path):
    common.write_text(str(tmp_path / "junit.xml"), "<testsuites/>\n")
    assert (tmp_path / "junit.xml").read_text() == "<testsuites/>\n"
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]
    assert common.DEFAULT_RESULTS == Path("results")
