"""`generate` (blobs_transfer.api.problems): the problems' splits and figure, byte for byte the tutorial's CSVs."""

import hashlib

from blobs_transfer import api
from blobs_transfer.config import load_config
from tests.helpers import PNG, read_csv, run

# sha256 of the CSVs `blobs-transfer generate` wrote before problems became specs (commit b03769f)
TUTORIAL_CSVS = {
    "problem1_train.csv": "793e604dbf46c29699eccce294cea2ed94899b0ce538c2a96b9eb465c6d5d20f",
    "problem1_test.csv": "258e9cfc393747ddf0e61966f94b640dcde474f23ecab11aa8e399d8a1d725d7",
    "problem2_train.csv": "4bbb77bddf45e65d23e66ea41779e2c7b887256a11b618759987610c5b0b0c12",
    "problem2_test.csv": "447a0f3e2a208558b0db888c019ceb74d1e88500281bd9b46bfaa81b1743919c",
}


def test_generate_writes_splits_and_figure(tmp_path):
    run("generate", "--results-dir", tmp_path)
    folder = tmp_path / "problems"
    for n in (1, 2):
        for split in ("train", "test"):
            rows = read_csv(folder / f"problem{n}_{split}.csv")
            assert len(rows) == 500 and list(rows[0]) == ["x1", "x2", "label"]
            assert {r["label"] for r in rows} == {"0", "1", "2"}
    assert (folder / "problems.png").read_bytes().startswith(PNG)


def test_default_csvs_are_the_tutorials(tmp_path):
    folder = api.generate(load_config(), tmp_path)
    for name, digest in TUTORIAL_CSVS.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
