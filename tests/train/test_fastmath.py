"""The kernel's exp and log (blobs_transfer.train.fastmath): within 2 and 3 ulp of libm, NaN and infinities kept."""

import numpy as np

from blobs_transfer.train import fastmath


def ulps(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(ours.astype(np.float64) - ref.astype(np.float64)) / np.spacing(np.abs(ref))


def test_exp_within_two_ulp_of_libm_and_keeps_nan_and_inf():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-87.3, 88.7, 200_000), rng.uniform(-1, 1, 50_000), [0.0, -87.0, 88.7]]).astype(
        np.float32
    )
    assert ulps(fastmath.exp_array(x), np.exp(x)).max() <= 2
    special = fastmath.exp_array(np.array([np.nan, np.inf, -np.inf, 89.0, -90.0], np.float32))
    assert np.isnan(special[0]) and special[1] == np.inf and special[3] == np.inf
    assert special[2] == 0 and special[4] == np.exp(np.float32(-90.0))  # subnormal, as libm


def test_log_within_three_ulp_of_libm_and_keeps_nan_and_inf():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(1, 3, 200_000), np.geomspace(1e-37, 3e38, 100_000), [1.0, 2.0, 0.5]]).astype(
        np.float32
    )
    ref = np.log(x)
    nonzero = ref != 0
    assert ulps(fastmath.log_array(x)[nonzero], ref[nonzero]).max() <= 3
    assert fastmath.log_array(np.array([1.0], np.float32))[0] == 0
    special = fastmath.log_array(np.array([np.nan, np.inf, 0.0, -1.0], np.float32))
    assert np.isnan(special[0]) and special[1] == np.inf and special[2] == -np.inf and np.isnan(special[3])
