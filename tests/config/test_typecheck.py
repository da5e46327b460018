"""config.typecheck: the one type check, on hand-made values and annotations whose answers are known."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from blobs_transfer.config import SECTIONS, Arm, Config, ConfigError, config_from_dict
from blobs_transfer.config.typecheck import check_type, field_annotation


@dataclass(frozen=True)
class Item:
    name: str
    size: int = 1


@dataclass(frozen=True)
class Table:
    rate: float = 0.5
    count: int = 2
    flag: bool = False
    label: str = "a"
    sizes: tuple[int, ...] = (1,)
    limit: int | None = None
    scale: float | None = None
    items: tuple[Item, ...] = ()


@pytest.mark.parametrize(
    "value,annotation,expected",
    [
        (3, int, 3),
        (1, float, 1.0),  # an int where a float is expected is read as that float
        (2.5, float, 2.5),
        (True, bool, True),
        ("x", str, "x"),
        ([5, 5], tuple[int, ...], (5, 5)),  # a TOML array becomes the field's tuple
        ([], tuple[int, ...], ()),
        ([1, 2.5], tuple[float, ...], (1.0, 2.5)),
        (None, int | None, None),
        (4, int | None, 4),
        (2, float | None, 2.0),
        ("copy", str | None, "copy"),
    ],
)
def test_accepted_values_come_back_as_the_field_holds_them(value, annotation, expected):
    checked = check_type("k", value, annotation)
    assert checked == expected and type(checked) is type(expected)


@pytest.mark.parametrize(
    "value,annotation,message",
    [
        (True, int, "k has the wrong type: expected int, got bool True"),  # a bool is not an int
        (True, float, "k has the wrong type: expected float, got bool True"),
        (2.0, int, "k has the wrong type: expected int, got float 2.0"),  # a float is not an int, even a whole one
        ("30", int, "k has the wrong type: expected int, got str '30'"),
        (1, bool, "k has the wrong type: expected bool, got int 1"),
        (1, str, "k has the wrong type: expected str, got int 1"),
        (5, tuple[int, ...], "k has the wrong type: expected a list of int, got int 5"),
        ((5, 5), tuple[int, ...], "k has the wrong type: expected a list of int, got tuple (5, 5)"),  # TOML gives lists
        ([5, "a"], tuple[int, ...], "k[1] has the wrong type: expected int, got str 'a'"),  # the item at fault
        ([5, True], tuple[int, ...], "k[1] has the wrong type: expected int, got bool True"),
        ("3", int | None, "k has the wrong type: expected int, got str '3'"),
        (False, float | None, "k has the wrong type: expected float, got bool False"),
        (None, int, "k has the wrong type: expected int, got NoneType None"),
    ],
)
def test_wrong_types_name_the_key_and_both_types(value, annotation, message):
    with pytest.raises(ConfigError) as info:
        check_type("k", value, annotation)
    assert str(info.value) == message


def test_a_table_becomes_its_dataclass_with_defaults_for_what_it_leaves_out():
    table = check_type("t", {"rate": 1, "sizes": [3, 4], "limit": 7, "items": [{"name": "p"}]}, Table)
    assert table == Table(rate=1.0, sizes=(3, 4), limit=7, items=(Item("p"),))
    assert type(table.rate) is float and check_type("t", {}, Table) == Table()


@pytest.mark.parametrize(
    "value,message",
    [
        ({"colour": 1}, "unknown key 't.colour' (known: rate, count, flag, label, sizes, limit, scale, items)"),
        ({"count": 1, "rate": "fast"}, "t.rate has the wrong type: expected float, got str 'fast'"),
        ({"items": [{"name": "p"}, {"size": 2}]}, "t.items[1]: missing key 'name'"),
        ({"items": [{"name": "p", "size": "big"}]}, "t.items[0].size has the wrong type: expected int, got str 'big'"),
        ({"items": [{"name": "p", "colour": 1}]}, "unknown key 't.items[0].colour' (known: name, size)"),
        ({"items": {"name": "p"}}, "t.items must be an array of tables ([[t.items]])"),
        ({"items": [{"name": "p"}, 3]}, "t.items must be an array of tables ([[t.items]])"),
        ({"items": "p"}, "t.items must be an array of tables ([[t.items]])"),
        ({"a.rate": 1}, "unknown key 't.a.rate' (known: rate, count, flag, label, sizes, limit, scale, items)"),
    ],
)
def test_table_mistakes_name_the_key(value, message):
    with pytest.raises(ConfigError) as info:
        check_type("t", value, Table)
    assert str(info.value) == message


@pytest.mark.parametrize("value", [3, "x", [1], [{"rate": 1}], True])
def test_a_section_that_is_not_a_table(value):
    with pytest.raises(ConfigError) as info:
        check_type("t", value, Table)
    assert str(info.value) == "t must be a table ([t])"


def test_field_annotation_is_the_declared_type_or_an_unknown_key():
    assert field_annotation(Table, "limit", "t.limit") == int | None
    assert field_annotation(Config, "arms", "arms") == tuple[Arm, ...]
    with pytest.raises(ConfigError, match=r"^unknown key 't\.lmit' \(known: rate, count"):
        field_annotation(Table, "lmit", "t.lmit")


def test_every_section_is_a_config_field_checked_as_its_annotation():
    """SECTIONS (what is read and written) is exactly Config's table fields, in order, with the same classes."""
    assert [*SECTIONS, "arms"] == list(Config.__dataclass_fields__)
    assert all(field_annotation(Config, name, name) is cls for name, cls in SECTIONS.items())


# The same mechanism behind every section, every arm and every override of a real config.


@pytest.mark.parametrize(
    "doc,overrides,message",
    [
        (
            {"training": {"learning_rate": True}},
            {},
            "training.learning_rate has the wrong type: expected float, got bool",
        ),
        ({"study": {"repeats": 30.0}}, {}, "study.repeats has the wrong type: expected int, got float 30.0"),
        ({"study": {"repeats": True}}, {}, "study.repeats has the wrong type: expected int, got bool True"),
        ({"target": {"n_train": "10"}}, {}, "target.n_train has the wrong type: expected int, got str '10'"),
        (
            {"model": {"hidden_units": 5}},
            {},
            "model.hidden_units has the wrong type: expected a list of int, got int 5",
        ),
        ({"model": {"hidden_units": [5, "a"]}}, {}, "model.hidden_units[1] has the wrong type: expected int, got str"),
        ({"study": 3}, {}, "study must be a table ([study])"),
        ({"source": [1]}, {}, "source must be a table ([source])"),
        ({"arms": {"name": "x"}}, {}, "arms must be an array of tables ([[arms]])"),
        ({"arms": [{"name": "standalone"}, "x"]}, {}, "arms must be an array of tables ([[arms]])"),
        ({"arms": [{"name": "standalone", "fixed": "1"}]}, {}, "arms[0].fixed has the wrong type: expected int"),
        ({"arms": [{"name": "standalone"}, {"weights": "source"}]}, {}, "arms[1]: missing key 'name'"),
        ({"study": {"x.repeats": 5}}, {}, "unknown key 'study.x.repeats'"),  # a quoted dotted key, once a TypeError
        ({}, {"study.repeats": "9"}, "study.repeats has the wrong type: expected int, got str '9'"),
        ({}, {"training.epochs": 2.5}, "training.epochs has the wrong type: expected int, got float 2.5"),
        ({}, {"study.repeat": 9}, "unknown key 'study.repeat' (known: source_problem, target_problem, repeats"),
        ({}, {"study.x.repeats": 9}, "unknown key 'study.x.repeats'"),
        ({}, {"arms.name": "x"}, "unknown key 'arms.name' (keys are section.key; sections are problems, source"),
        (
            {"study": {"repeats": "3"}},
            {"study.repeats": 4},
            "study.repeats has the wrong type",
        ),  # the file is checked too
    ],
)
def test_config_mistakes_are_one_line_and_name_the_key(doc, overrides, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc, overrides)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_config_values_are_converted_as_their_annotations_say():
    cfg = config_from_dict(
        {"training": {"learning_rate": 1}, "target": {"cluster_std": 3}},
        {"source.learning_rate": 2, "study.repeats": None},
    )
    assert cfg.training.learning_rate == 1.0 and type(cfg.training.learning_rate) is float
    assert type(cfg.target.cluster_std) is float and type(cfg.source.learning_rate) is float
    assert cfg.study.repeats == 30  # a None override leaves the value alone
    assert config_from_dict({"model": {"hidden_units": [4, 3]}}).model.hidden_units == (4, 3)
