"""Config loading (blobs_transfer.config.load) under arbitrary TOML, property-based: any document loads or fails
with one line, and what loads writes back to TOML that loads to the same config."""

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobs_transfer.config import ConfigError, load_config, to_toml

scalars = st.one_of(
    st.integers(-10, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=8),
    st.lists(st.integers(-3, 12), max_size=4),
)


keys = st.sampled_from(
    [
        "seeds",
        "n_samples",
        "centers",
        "n_features",
        "cluster_std",
        "n_train",
        "hidden_units",
        "hidden_initializer",
        "learning_rate",
        "batch_size",
        "epochs",
        "repeats",
        "seed",
        "baseline",
        "engine",
        "source_problem",
        "target_problem",
        "source_repeats",
        "bogus",
    ]
)


sections = st.dictionaries(keys, scalars, max_size=4)


arm_tables = st.lists(
    st.dictionaries(
        st.sampled_from(["name", "weights", "copy", "fixed", "add_hidden", "source_problem", "colour"]),
        st.one_of(st.integers(-2, 5), st.sampled_from(["fresh", "source", "x", ""])),
        max_size=5,
    ),
    max_size=3,
)


documents = st.fixed_dictionaries(
    {},
    optional={
        "problems": sections,
        "model": sections,
        "training": sections,
        "study": sections,
        "arms": arm_tables,
        "extra": sections,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_any_toml_loads_or_fails_with_one_line(doc, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(doc))
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    resolved = tmp_path / "resolved.toml"  # what a run records must load back to the same config
    resolved.write_text(to_toml(cfg))
    assert load_config(resolved) == cfg


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60))
def test_arbitrary_text_never_crashes_the_loader(text, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc)
