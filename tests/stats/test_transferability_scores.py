"""The scores of issue 34 on inputs whose answer is worked out by hand (TransRate, GBC, N-LEEP, k-NN accuracy, the
probe's log-loss, the plain H-score), LogME at the global maximum on a constructed evidence with two local
maxima, and realised means from exact counts, so that equal means tie."""

import subprocess
import sys
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from scipy.linalg import hadamard

from blobs_transfer.stats import exact_means as E
from blobs_transfer.stats import transferability


def features_and_labels(seed=0, n=300, d=5):
    """ReLU-like features (n, d) that carry the labels (n,) in 3 classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    f = np.maximum(rng.normal(size=(n, d)) + rng.normal(size=d), 0.0)
    f[:, :2] += 0.7 * y[:, None]
    return f, y


# --- TransRate --------------------------------------------------------------------------------------------


def test_transrate_by_hand():
    """Two classes on two axes. Standardised, each column is sqrt(2) (1, -1, 0, 0) or its mirror: Z^T Z = 4 I,
    R(Z) = 1/2 * 2 log(1 + 4 / (4 eps)); each class spans one axis, Z_c^T Z_c = diag(4, 0), R(Z_c) = 1/2 log(1 +
    4 / (2 eps)). TransRate = log(1 + 1/eps) - 1/2 log(1 + 2/eps), eps = 1e-4."""
    f = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    y = np.array([0, 0, 1, 1])
    assert transferability.TRANSRATE_EPS == 1e-4
    expect = np.log(10_001.0) - 0.5 * np.log(20_001.0)
    assert transferability.transrate(f, y) == pytest.approx(expect, rel=1e-12)
    # the standardisation: a unit's scale and offset do not matter, and a dead unit adds nothing
    assert transferability.transrate(f * [3.0, 0.5] + [7.0, -2.0], y) == pytest.approx(expect, rel=1e-12)
    assert transferability.transrate(np.column_stack([f, np.zeros(4)]), y) == pytest.approx(expect, rel=1e-12)


def test_transrate_of_a_class_that_has_the_whole_spread_is_about_nothing():
    """One unit, -2 -2 | 1 1 1 1: standardised (SD sqrt 2) the classes hold mean squares 2 and 1/2, so TransRate
    = 1/2 log(1 + 1/eps) - 1/4 (log(1 + 2/eps) + log(1 + 0.5/eps)): nearly zero, as the coding rate of a class is
    not re-centred (the authors' form)."""
    f = np.array([[-2.0], [-2.0], [1.0], [1.0], [1.0], [1.0]])
    y = np.array([0, 0, 1, 1, 1, 1])
    expect = 0.5 * np.log(10_001.0) - 0.25 * (np.log(20_001.0) + np.log(5_001.0))
    assert transferability.transrate(f, y) == pytest.approx(expect, rel=1e-9)
    assert abs(expect) < 1e-4


def test_transrate_rewards_features_that_carry_the_labels():
    f, y = features_and_labels(1)
    assert (
        transferability.transrate(f, y) > transferability.transrate(np.random.default_rng(2).permutation(f), y) + 0.05
    )


# --- GBC --------------------------------------------------------------------------------------------------


def test_gbc_by_hand():
    """One unit. Classes {0, 2} and {4, 6}: means 1 and 5, variances 1: D_B = 16 / 8 = 2, counted for both
    ordered pairs: GBC = -2 e^-2. Classes {0, 2} and {3, 7} (variance 4): S = 2.5, D_B = 16 / (8 * 2.5) + 1/2
    log(2.5 / sqrt(1 * 4)) = 0.8 + 1/2 log 1.25."""
    y = np.array([0, 0, 1, 1])
    assert transferability.gbc(np.array([[0.0], [2.0], [4.0], [6.0]]), y) == pytest.approx(-2 * np.exp(-2.0), rel=1e-14)
    expect = -2 * np.exp(-0.8 - 0.5 * np.log(1.25))
    assert transferability.gbc(np.array([[0.0], [2.0], [3.0], [7.0]]), y) == pytest.approx(expect, rel=1e-14)


def test_gbc_of_identical_classes_is_minus_the_number_of_ordered_pairs():
    """Three classes at one point: each variance floored at 1e-4, D_B = 0, BC = 1 for each of the 6 ordered
    pairs. A unit constant in every class (dead) adds nothing to D_B."""
    y = np.array([0, 0, 1, 1, 2, 2])
    assert transferability.gbc(np.ones((6, 2)), y) == -6.0
    f = np.array([[0.0], [2.0], [4.0], [6.0]])
    assert transferability.gbc(np.column_stack([f, np.zeros(4)]), np.array([0, 0, 1, 1])) == pytest.approx(
        -2 * np.exp(-2.0)
    )


def test_gbc_floors_a_class_variance_at_1e_4():
    """One unit. Class {1, 1} has variance 0, floored at 1e-4; class {0, 2} has mean 1 and variance 1: the means
    agree, S = (1 + 1e-4) / 2, D_B = 1/2 (log S - 1/2 log 1e-4 - 1/2 log 1)."""
    f, y = np.array([[1.0], [1.0], [0.0], [2.0]]), np.array([0, 0, 1, 1])
    distance = 0.5 * (np.log((1 + 1e-4) / 2) - 0.5 * np.log(1e-4))
    assert transferability.gbc(f, y) == pytest.approx(-2 * np.exp(-distance), rel=1e-12)


def test_gbc_spherical_by_hand():
    """Two units. Classes {(0,-2), (2,2)} and {(4,-2), (6,2)}: means (1,0), (5,0), variances (1, 4) both. Diagonal:
    D_B = 16/8 = 2. Spherical (each variance their mean, 2.5): D_B = 16 / (8 * 2.5) = 0.8. Equal means, variances
    1 and 4 in both units: spherical D_B = D/2 log(2.5 / 2) = log 1.25 (D = 2), so GBC = -2 / 1.25; the authors'
    code counts the log-determinant once, which would give -2 / sqrt(1.25)."""
    y = np.array([0, 0, 1, 1])
    f = np.array([[0.0, -2.0], [2.0, 2.0], [4.0, -2.0], [6.0, 2.0]])
    assert transferability.gbc(f, y) == pytest.approx(-2 * np.exp(-2.0), rel=1e-14)
    assert transferability.gbc(f, y, covariance="spherical") == pytest.approx(-2 * np.exp(-0.8), rel=1e-14)
    g = np.array([[0.0, 0.0], [2.0, 2.0], [-1.0, -1.0], [3.0, 3.0]])
    assert transferability.gbc(g, y, covariance="spherical") == pytest.approx(-2 / 1.25, rel=1e-14)
    assert transferability.gbc(g, y) == pytest.approx(-2 / 1.25, rel=1e-14)  # diagonal: the same, unit by unit
    with pytest.raises(ValueError, match="spherical"):
        transferability.gbc(g, y, covariance="full")


# --- N-LEEP -----------------------------------------------------------------------------------------------


def clusters(labels_in_cluster, n_per=40, seed=3):
    """Three tight clusters far apart (n_per rows each, 2 units) and the labels given per cluster."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    f = np.concatenate([c + 0.1 * rng.normal(size=(n_per, 2)) for c in centres])
    y = np.concatenate([np.asarray(lab)[np.arange(n_per) % len(lab)] for lab in labels_in_cluster])
    return f, y


def test_nleep_by_hand():
    """Clusters that are the classes: every mixture component lies in one cluster, so P(y | component) is 1 for
    its class and N-LEEP = log 1 = 0. Labels that alternate 0, 1 within each cluster (class 2 in a cluster of its
    own): a component of a 0/1 cluster gives each label 1/2 whatever its share of the rows, so N-LEEP =
    (2/3) log 1/2."""
    f, y = clusters([[0], [1], [2]])
    assert transferability.nleep(f, y, seed=1) == pytest.approx(0.0, abs=1e-9)
    assert transferability.nleep(f, y, seed=1, components_per_class=1) == pytest.approx(0.0, abs=1e-9)
    f, y = clusters([[0, 1], [0, 1], [2]])
    assert transferability.nleep(f, y, seed=1, components_per_class=1) == pytest.approx(2 / 3 * np.log(0.5), abs=1e-9)


def test_nleep_fits_five_components_per_class():
    """Fifteen tight clusters on a line, labelled 0 1 2 0 1 2 ...: N-LEEP's mixture is scikit-learn's with 5 C =
    15 components started from 15 rows drawn from the seed (which cover only some clusters, so N-LEEP is below
    0); with C = 3 components each must cover clusters of different labels."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(4)
    f = np.concatenate([[100.0 * k, 0.0] + 0.1 * rng.normal(size=(20, 2)) for k in range(15)])
    y = np.repeat(np.arange(15) % 3, 20)
    assert transferability.NLEEP_COMPONENTS_PER_CLASS == 5
    mixture = GaussianMixture(15, init_params="random_from_data", random_state=1).fit(f)
    assert transferability.nleep(f, y, seed=1) == pytest.approx(
        transferability.leep(mixture.predict_proba(f), y), abs=1e-9
    )
    assert transferability.nleep(f, y, seed=1, components_per_class=1) < transferability.nleep(f, y, seed=1) - 0.1


def test_nleep_takes_its_seed_from_the_caller():
    f, y = features_and_labels(4, n=200)
    assert transferability.nleep(f, y, seed=7) == transferability.nleep(f, y, seed=7)
    assert (
        len({transferability.nleep(f, y, seed=s) for s in range(4)}) > 1
    )  # the mixture's start matters, so the seed is named


# --- k-NN accuracy --------------------------------------------------------------------------------------------


@pytest.fixture(params=["kernel", "numpy"])
def knn_path(request, monkeypatch):
    """Each k-NN test on both of its paths: Numba's kernel (where Numba runs already) and numpy's."""
    monkeypatch.setattr(transferability, "_numba_running", lambda: request.param == "kernel")
    return request.param


COUNTS = {"kernel": lambda: transferability._knn_kernel(), "numpy": lambda: transferability._knn_correct_numpy}


def test_knn_accuracy_by_hand(knn_path):
    """Two folds of three rows, one unit. Each row's nearest other-fold row is its own class: 1-NN is always
    right. With k = 3 all three training rows vote, one per class: the tie goes to label 0, right for 2 of 6 rows.
    Labels shifted so that each nearest row has another label: 1-NN is always wrong."""
    f = np.array([[0.0], [10.0], [20.0], [1.0], [11.0], [21.0]])
    assert transferability.knn_accuracy(f, np.array([0, 1, 2, 0, 1, 2]), k=1, folds=2) == 1.0
    assert transferability.knn_accuracy(f, np.array([0, 1, 2, 0, 1, 2]), k=3, folds=2) == pytest.approx(2 / 6)
    assert transferability.knn_accuracy(f, np.array([0, 1, 2, 1, 2, 0]), k=1, folds=2) == 0.0


def test_knn_accuracy_breaks_a_distance_tie_towards_the_earlier_row(knn_path):
    """Fold 1 predicts rows 0 (at 0) and 1 (at 5) from rows 2 (at -1, label 1) and 3 (at 1, label 0): row 0 is as
    far from both and takes row 2's label 1 (wrong); row 1 takes row 3's 0 (wrong). Fold 2 predicts rows 2 and 3
    from rows 0 (label 0) and 1: both nearest row 0, right for row 3 only. Accuracy 1/4 (the other tie rule: 2/4)."""
    f = np.array([[0.0], [5.0], [-1.0], [1.0]])
    assert transferability.knn_accuracy(f, np.array([0, 1, 1, 0]), k=1, folds=2) == 0.25


def test_knn_accuracy_is_scikit_learns_where_no_distances_tie(knn_path):
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 200)
    f = rng.normal(size=(200, 4)) + 0.8 * y[:, None]  # continuous: no two distances tie
    knn = make_pipeline(StandardScaler(), KNeighborsClassifier(5, algorithm="brute"))  # k = 5, 5 folds: the defaults
    expect = np.mean(cross_val_predict(knn, f, y, cv=KFold(5)) == y)
    assert transferability.knn_accuracy(f, y) == expect
    assert 0.5 < expect < 1.0


def test_knn_accuracy_ties_at_the_kth_place_go_to_the_earlier_row_and_a_tied_vote_to_the_smaller_label(knn_path):
    """k = 3, two folds of five rows, one unit. Fold 1 predicts rows 0-4 (all at 0, label 0) from rows 5-9 at
    0.5, 1, 1, 1, 3 with labels 2, 1, 0, 2, 1: row 5 is nearest, and rows 6, 7 and 8 (equal values, so equal
    distances after any scaling) tie for the last two places: the earlier rows 6 and 7 are chosen, whose labels 2,
    1, 0 tie 1-1-1, and the vote goes to the smallest, 0: all five right. Fold 2 predicts rows 5-9 from rows 0-4
    (all tied; every label 0): right for row 7 only. Accuracy 6/10; choosing row 8 over row 7 (votes 2, 1, 2) or
    a tied vote going to the largest label predicts 2 in fold 1: 1/10."""
    f = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 3.0])[:, None]
    y = np.array([0, 0, 0, 0, 0, 2, 1, 0, 2, 1])
    assert transferability.knn_accuracy(f, y, k=3, folds=2) == 0.6
    # the nearest row after the tied ones (rows 5-9 at 1, 1, 1, 0.5, 3, labels 0, 1, 2, 2, 1): rows 8, 5 and 6 vote
    # 2, 0, 1, tied, so 0, right for rows 0-4 (rows 8, 7 and 6 would vote 2); fold 2 is right for row 5 only
    f[5:, 0] = [1.0, 1.0, 1.0, 0.5, 3.0]
    y[5:] = [0, 1, 2, 2, 1]
    assert transferability.knn_accuracy(f, y, k=3, folds=2) == 0.6


def knn_reference(features, labels, k, folds):
    """knn_accuracy_rows written plainly: each fold's standardised features (`_scaled_rows`) into `reference_right`."""
    y = np.asarray(labels)
    out = []
    for f in features:
        right = 0
        for block in np.array_split(np.arange(y.size), folds):
            train = np.ones(y.size, dtype=bool)
            train[block] = False
            fitted, held = transferability._scaled_rows(f[None], train, block)
            right += reference_right(fitted[0], held[0], y[train], y[block], k)
        out.append(right / y.size)
    return np.array(out)


def reference_right(fitted, held, y_fitted, y_held, k):
    """How many held-out rows (b, D) the training rows (m, D) vote right: each squared distance summed unit by unit
    in Python floats, the k first of the training rows sorted by (distance, row), NaN distances left out (fewer
    than k left: label 0), and the label with the most votes, the smallest among equals."""
    right = 0
    for row, label in zip(held.tolist(), y_held):
        nearest = []
        for t, other in enumerate(fitted.tolist()):
            distance = 0.0
            for a, b in zip(row, other):
                distance += (a - b) * (a - b)
            if distance == distance:
                nearest.append((distance, t))
        nearest.sort()
        predicted = 0
        if len(nearest) >= k:
            votes = Counter(int(y_fitted[t]) for _, t in nearest[:k])
            predicted = min(votes, key=lambda c: (-votes[c], c))
        right += predicted == label
    return right


@pytest.mark.parametrize("seed", range(6))
def test_knn_accuracy_rows_is_the_plain_reference_on_inputs_full_of_ties(seed, knn_path):
    """Integer features (many equal distances), duplicated rows, a dead unit, a model with every unit dead and
    one with a NaN: the same accuracies, exactly, for k from 1 to 7, 2 to 4 classes and folds that do not divide
    n (with enough training rows per fold, and too few, for the kernel's bound on the k-th distance)."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([13, 37, 61]))
    d, c, k = int(rng.integers(1, 4)), int(rng.integers(2, 5)), int(rng.choice([1, 3, 5, 7]))
    y = rng.integers(0, c, n)
    f = rng.integers(0, 3, (5, n, d)).astype(float)
    f[1] = f[1, rng.integers(0, n // 3, n)]  # each row a copy of one of the first third
    f[2, :, 0] = 4.0
    f[3] = 1.5
    f[4, int(rng.integers(n)), 0] = np.nan
    folds = int(rng.choice([2, 3, 5]))
    assert np.array_equal(transferability.knn_accuracy_rows(f, y, k, folds), knn_reference(f, y, k, folds))


@pytest.mark.parametrize("path", COUNTS)
@pytest.mark.parametrize("k", [1, 4, 5])
def test_the_knn_kernel_leaves_out_nan_distances_as_the_reference(k, path):
    """The kernel on its own, with some training rows NaN (which standardised features give only at extremes,
    say a unit whose SD underflows): their distances are never chosen, its bound on the k-th distance ignores
    none, and a held-out row with fewer than k rows to choose from (NaN features, or only rows 1 and 2 left, both
    label 2) gets no vote: label 0."""
    rng = np.random.default_rng(k)
    fitted, held = rng.integers(0, 4, (4, 44, 2)).astype(float), rng.integers(0, 4, (4, 9, 2)).astype(float)
    fitted[:, [0, 8, 13, 30]] = np.nan  # row 0 starts the bound's first group of rows, row 8 its second (k = 4, 5)
    fitted[1, 1::2, 1] = np.nan
    fitted[3, 3:] = np.nan
    held[2, 4, 0] = np.nan
    y_fitted, y_held = rng.integers(0, 3, 44), rng.integers(0, 3, 9)
    y_fitted[1:3], y_held[:2] = 2, [0, 2]
    correct = np.zeros(4, dtype=np.int64)
    COUNTS[path]()(np.ascontiguousarray(np.swapaxes(fitted, 1, 2)), held, y_fitted, y_held, k, 3, correct)
    assert correct.tolist() == [reference_right(a, b, y_fitted, y_held, k) for a, b in zip(fitted, held)]


@pytest.mark.parametrize("path", COUNTS)
def test_the_knn_kernel_sums_each_distance_unit_by_unit_in_order_without_fused_multiply_add(path):
    """Two rounding traps for one held-out row at 0, k = 1, training rows 0 (label 0) and 1 (label 1). Units
    (2^27, 0, 0, 2) and (2^27, 1, 1, 1): in order, row 0's distance is 2^54 + 4 and row 1's 2^54 (each + 1 to
    2^54 rounds away), so row 1 is nearest; summed from the last unit row 1's is 2^54 + 3, rounded to 2^54 + 4, a
    tie won by row 0. Units (x, y) and (y, x), x = 1 + 2^-26 and y = 1.5 + 2^-26: x^2 + y^2 rounded twice is the
    same either way, a tie won by row 0; a fused multiply-add (fastmath) rounds once and makes row 1 nearer."""
    count = COUNTS[path]()
    big, x, y = 2.0**27, 1 + 2.0**-26, 1.5 + 2.0**-26
    for rows, nearest in (([[big, 0.0, 0.0, 2.0], [big, 1.0, 1.0, 1.0]], 1), ([[x, y], [y, x]], 0)):
        correct = np.zeros(1, dtype=np.int64)
        fitted = np.array(rows).T[None].copy()  # (1 model, D units, 2 training rows)
        count(fitted, np.zeros((1, 1, fitted.shape[1])), np.array([0, 1]), np.array([nearest]), 1, 2, correct)
        assert correct[0] == 1


def test_knn_accuracy_needs_k_between_1_and_the_training_rows(knn_path):
    f, y = np.arange(10.0)[:, None], np.arange(10) % 2
    for k in (0, 9):  # 5 folds of 2 rows: 8 training rows
        with pytest.raises(ValueError, match="neighbours"):
            transferability.knn_accuracy(f, y, k=k)
    assert transferability.knn_accuracy(f, y, k=8) == 0.5  # all 8 vote, 4-4: label 0, right for half the rows


def test_importing_the_scores_or_knn_in_a_process_without_numba_does_not_import_it():
    """Numba's start-up (0.35 s) is paid only where it runs already (the numba engine trained): importing the
    scores, or a k-NN accuracy in a process without Numba (rank-sources, report), takes numpy's path."""
    code = (
        "import sys, blobs_transfer.api.transferability, blobs_transfer.stats.transferability as T; "
        "assert 'numba' not in sys.modules; T.knn_accuracy([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1], 1, 2); "
        "assert 'numba' not in sys.modules; import numba; assert T._numba_running()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the probe's log-loss ---------------------------------------------------------------------------------


def test_probe_log_loss_by_hand():
    """Dead features: the probe has only its (unpenalised) intercepts and predicts each block with the class shares
    of the other 8 rows. Labels 0 1 | 0 2 | 1 2 | 0 0 | 1 2 (4, 3, 3 of each): the held-out rows' shares are 3/8,
    2/8 | 3/8, 2/8 | 2/8, 2/8 | 2/8, 2/8 | 2/8, 2/8, so the score is (2 log 3/8 + 8 log 1/4) / 10."""
    y = np.array([0, 1, 0, 2, 1, 2, 0, 0, 1, 2])
    expect = (2 * np.log(3 / 8) + 8 * np.log(1 / 4)) / 10
    assert transferability.probe_log_loss(np.zeros((10, 2)), y) == pytest.approx(expect, abs=1e-9)


def test_probe_log_loss_is_the_same_probe_as_the_accuracy():
    """The held-out logits are those of `probe_accuracy`, and the log-loss is scikit-learn's on a pipeline of the
    same folds (consecutive), scaler and LogisticRegression(C=1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    f, y = features_and_labels(6, n=250)
    logits = transferability.held_out_logits(f, y)
    assert np.mean(np.argmax(logits, axis=1) == y) == transferability.probe_accuracy(f, y)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000))
    p = cross_val_predict(pipe, f, y, cv=KFold(transferability.FOLDS), method="predict_proba")
    assert transferability.probe_log_loss(f, y) == pytest.approx(-log_loss(y, p), abs=1e-6)
    assert (
        transferability.probe_log_loss(f, y)
        > transferability.probe_log_loss(np.random.default_rng(7).permutation(f), y) + 0.05
    )


# --- H-score without shrinkage ------------------------------------------------------------------------------


def test_h_score_plain_by_hand():
    """One unit 0 2 4 6, classes {0, 2} {4, 6}: centred -3 -1 1 3, cov = 20/4 = 5; class means -2, 2, their cov
    4: H = 4/5. Classes at -1 and 1 with no spread: H = 1 = C - 1, its most."""
    assert transferability.h_score_plain(
        np.array([[0.0], [2.0], [4.0], [6.0]]), np.array([0, 0, 1, 1])
    ) == pytest.approx(0.8)
    assert transferability.h_score_plain(
        np.array([[-1.0], [-1.0], [1.0], [1.0]]), np.array([0, 0, 1, 1])
    ) == pytest.approx(1.0)


def test_h_score_plain_is_the_unshrunk_h_score_and_affine_invariant():
    f, y = features_and_labels(8)
    f[:, 4] = 0.0  # a dead unit
    plain = transferability.h_score_plain(f, y)
    assert plain == pytest.approx(transferability.h_score(f, y, shrinkage=0.0), rel=1e-9)
    a = np.random.default_rng(9).normal(size=(4, 4)) + 3 * np.eye(4)
    moved = np.column_stack([f[:, :4] @ a + 1.5, f[:, 4]])
    assert transferability.h_score_plain(moved, y) == pytest.approx(plain, rel=1e-8)
    assert plain != pytest.approx(transferability.h_score(f, y), rel=1e-3)  # the shrunk one is another number


# --- LogME at the global maximum ----------------------------------------------------------------------------


def two_maxima():
    """32 rows, two orthogonal +-1 columns scaled by 0.025 and 1 (eigenvalues of F^T F: 0.02 and 32), and a target
    t = 0.6 h1 + 0.2 h2 + 0.3 h3 that mostly follows the *small* column: z = F^T t = (0.48, 6.4), t^T t = 15.68."""
    h = hadamard(32).astype(float)
    f = np.column_stack([0.025 * h[:, 1], 1.0 * h[:, 2]])
    t = 0.6 * h[:, 1] + 0.2 * h[:, 2] + 0.3 * h[:, 3]
    return t, f


def by_hand_profile(lam):
    """The evidence per row maximised over beta at alpha = lambda beta, for two_maxima() written out:
    E = 15.68 - 0.48^2 / (0.02 + lambda) - 6.4^2 / (32 + lambda), beta = 32 / E."""
    e = 15.68 - 0.48**2 / (0.02 + lam) - 6.4**2 / (32.0 + lam)
    return 0.5 * (np.log(32.0 / e) - 1 - np.log(2 * np.pi)) - (np.log1p(0.02 / lam) + np.log1p(32.0 / lam)) / 64.0


def test_the_constructed_evidence_has_two_local_maxima():
    """Near lambda = 3.4e-4 (both columns used, the small one with a weak prior) and near lambda = 17 (the large
    column only); the first is higher by 0.56."""
    t, f = two_maxima()
    lam = 10.0 ** np.linspace(-8, 8, 160_001)
    v = by_hand_profile(lam)
    peaks = np.flatnonzero((v[1:-1] > v[:-2]) & (v[1:-1] > v[2:])) + 1
    assert lam[peaks] == pytest.approx([3.42e-4, 16.98], rel=1e-2)
    assert v[peaks[0]] - v[peaks[1]] > 0.5
    sigma, z, tt, n = transferability._eigen(t, f)
    assert transferability.profile_evidence(lam[None, peaks], sigma, z, tt, n)[0] == pytest.approx(v[peaks], abs=1e-12)


def test_logme_finds_the_global_maximum_where_the_fixed_point_from_one_finds_the_lower():
    t, f = two_maxima()
    lam = 10.0 ** np.linspace(-8, 8, 160_001)
    best = by_hand_profile(lam).max()
    low, a1, b1 = transferability.fixed_point_evidence(t, f)  # the authors' start alpha = beta = 1
    assert a1 / b1 == pytest.approx(16.98, rel=1e-2)
    assert low < best - 0.5
    value, alpha, beta = transferability.maximise_evidence(t, f)
    assert value == pytest.approx(best, abs=1e-9) and value >= best - 1e-12
    assert alpha / beta == pytest.approx(3.42e-4, rel=1e-2)
    # and it is the evidence at (alpha, beta): the Gaussian marginal likelihood, per row
    from scipy.stats import multivariate_normal

    cov = np.eye(32) / beta + f @ f.T / alpha
    assert value == pytest.approx(multivariate_normal(np.zeros(32), cov).logpdf(t) / 32, abs=1e-10)
    # the fixed point started near the higher maximum ends there
    assert transferability.fixed_point_evidence(t, f, alpha=1e-3, beta=10.0)[0] == pytest.approx(value, abs=1e-10)


def test_logme_takes_the_limit_of_infinite_alpha_when_it_is_best():
    """A target that no live direction carries (F^T t = 0): the evidence rises with alpha to the features-free
    model's 1/2 (log(n / t^T t) - 1 - log 2 pi), returned with alpha = inf. A weak direction (tiny F^T t): the
    limit still beats every finite alpha."""
    h = hadamard(16).astype(float)
    f = h[:, 1:3].copy()
    t = h[:, 3] + h[:, 0]  # orthogonal to both columns: t^T t = 32
    value, alpha, beta = transferability.maximise_evidence(t, f)
    assert value == pytest.approx(0.5 * (np.log(16 / 32) - 1 - np.log(2 * np.pi)), rel=1e-14)
    assert alpha == np.inf and beta == pytest.approx(0.5)
    weak = t + 1e-3 * h[:, 1]
    value, alpha, _ = transferability.maximise_evidence(weak, f)
    assert alpha == np.inf
    sigma, z, tt, n = transferability._eigen(weak, f)
    grid = transferability.profile_evidence(10.0 ** np.linspace(-6, 12, 2001)[None], sigma, z, tt, n)
    assert value >= grid.max()


def test_logme_global_is_the_fixed_point_where_the_evidence_has_one_maximum():
    """On features with one maximum per class the global search and the fixed point run to convergence agree (and
    so with the reference's -0.459938717689 of test_transferability); a dead unit still adds nothing."""
    rng = np.random.default_rng(0)
    f = np.maximum(rng.normal(size=(500, 5)) + rng.normal(size=5), 0)
    y = rng.integers(0, 3, 500)
    f[:, :2] += y[:, None] * 0.7
    fixed_points = [transferability.fixed_point_evidence((y == k).astype(float), f)[0] for k in range(3)]
    assert transferability.logme(f, y) == pytest.approx(np.mean(fixed_points), abs=1e-12)
    assert transferability.logme(f, y) == pytest.approx(-0.459938717689, abs=2e-10)
    dead = np.column_stack([f, np.zeros(500)])
    assert transferability.logme(dead, y) == pytest.approx(transferability.logme(f, y), abs=1e-12)


# --- realised means from exact counts ----------------------------------------------------------------------------


def test_equal_counts_give_equal_means():
    """Source 6 got 410, 399, 410 of 500 right; source 82 got 406, 406, 407: 1219 of 1500 both. Averaged as floats
    they differ in the last bit; from the counts they are the same double, the one nearest 1219/1500."""
    correct = np.array([410, 399, 410, 406, 406, 407, 408, 406, 406])
    groups = np.array([6, 6, 6, 82, 82, 82, 90, 90, 90])
    labels, means = E.realised_means(correct, 500, groups)
    assert labels.tolist() == [6, 82, 90]
    assert means[0] == means[1] == 1219 / 1500
    assert Fraction(means[0]) == Fraction(Fraction(1219, 1500).__float__())
    assert means[2] == 1220 / 1500 and means[2] > means[0]
    floats = correct / 500
    assert np.mean(floats[:3]) != np.mean(floats[3:6])  # the rounding the helper removes


def test_realised_means_with_unequal_test_sizes_are_the_pooled_fraction():
    labels, means = E.realised_means([3, 5, 8], [10, 10, 20], [1, 1, 2])
    assert means.tolist() == [8 / 20, 8 / 20]
    with pytest.raises(ValueError, match="whole"):
        E.realised_means([3.5, 5], 10, [1, 1])


def test_resampled_means_are_whole_counts_divided_once():
    """Two resamples of 6 runs (three sources, two runs each): the first draws source 0's runs twice each and source
    2's once each, the second source 1's first run 3 times and its second once. Each mean is the drawn runs'
    summed counts over their summed test rows; an undrawn source is NaN. Equal fractions give equal doubles."""
    correct = np.array([410, 399, 406, 407, 300, 301])
    onehot = np.repeat(np.eye(3), 2, axis=0)
    weights = np.array([[2, 2, 0, 0, 1, 1], [0, 0, 3, 1, 0, 0]])
    m = E.resampled_means(weights, onehot, correct, 500)
    assert m[0, 0] == (2 * 410 + 2 * 399) / 2000 and np.isnan(m[0, 1]) and m[0, 2] == 601 / 1000
    assert m[1, 1] == (3 * 406 + 407) / 2000 and np.isnan(m[1, 0])
    tie = E.resampled_means(np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]), np.eye(2)[[0, 0, 0, 1, 1, 1]],
                            [410, 399, 410, 406, 406, 407], 500)  # fmt: skip
    assert tie[0, 0] == tie[1, 1] == 1219 / 1500
    with pytest.raises(ValueError, match="whole numbers"):
        E.resampled_means(np.array([[0.5, 1, 0, 0, 0, 0]]), onehot, correct, 500)


@pytest.mark.parametrize("columns", [1, 2, 3, 7, 8, 11])
def test_last_axis_max_and_sum_are_numpys_to_the_last_bit(columns):
    """The probe's row maximum and row sum over the classes, column by column, equal numpy's reductions over the
    last axis bit for bit (the probe's scores must not move a digit)."""
    rng = np.random.default_rng(columns)
    v = np.exp(3.0 * rng.normal(size=(13, 41, columns)))
    np.testing.assert_array_equal(transferability._last_max(v), v.max(axis=-1, keepdims=True))
    assert np.array_equal(transferability._last_sum(v), v.sum(axis=-1, keepdims=True))
