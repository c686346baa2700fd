"""The one seed rule (regnorm.seeding) and the sweep's paired designs (seed_key)."""

import numpy as np
import pytest

from regnorm.seeding import generator, seed_sequence, stable_key
from regnorm.sweeps import point_seed, sweep


def _state(ss):
    return ss.generate_state(4).tolist()


def test_integer_keys_are_spawned_children():
    root = np.random.SeedSequence(11)
    children = root.spawn(5)
    for i, child in enumerate(children):
        assert _state(seed_sequence(11, i)) == _state(child)
    # a SeedSequence root keeps its spawn key and pool size, and its spawn counter is unused
    ss = np.random.SeedSequence(3, spawn_key=(7,), pool_size=8)
    ss.spawn(2)
    want = np.random.SeedSequence(3, spawn_key=(7, 4), pool_size=8)
    got = seed_sequence(ss, 4)
    assert _state(got) == _state(want) and got.pool_size == 8


def test_names_and_parameters_hash_to_four_words():
    assert seed_sequence(5, ("C1", 32)).spawn_key == stable_key(("C1", 32))
    assert seed_sequence(5, {"M": 4}, 2).spawn_key == (*stable_key({"M": 4}), 2)
    assert _state(point_seed(5, {"M": 4}, 2)) == _state(seed_sequence(5, {"M": 4}, 2))
    # 32.0 and 32 are the same point; other values are other streams
    assert _state(seed_sequence(1, {"M": 32.0})) == _state(seed_sequence(1, {"M": 32}))
    assert _state(seed_sequence(1, "a")) != _state(seed_sequence(1, "b"))
    g1, g2 = generator(9, 1, "x"), generator(9, 1, "x")
    assert g1.standard_normal() == g2.standard_normal()


@pytest.mark.parametrize(
    ("root", "key", "exc"),
    [
        (-1, (), ValueError),
        (True, (), TypeError),
        ("3", (), TypeError),
        (1.5, (), TypeError),
        (1, (-2,), ValueError),
        (1, (True,), TypeError),
        (1, (1.5,), TypeError),
    ],
)
def test_bad_roots_and_keys_are_refused(root, key, exc):
    with pytest.raises(exc):
        seed_sequence(root, *key)


def _draw(p, rng):
    return {"x": float(rng.standard_normal())}


def test_sweep_seed_key_pairs_the_points_it_omits():
    grid = {"data": [0, 1], "normalizer": ["batch_norm", "layer_norm"]}
    paired = sweep(_draw, grid, repetitions=2, seed=4, seed_key=("data",))
    by = paired.pivot_table(index=["data", "rep"], columns="normalizer", values="x")
    assert np.array_equal(by["batch_norm"].to_numpy(), by["layer_norm"].to_numpy())
    # the stream is the named rule's: seed_sequence(seed, {"data": d}, rep)
    want = np.random.default_rng(seed_sequence(4, {"data": 1}, 1)).standard_normal()
    assert by.loc[(1, 1), "batch_norm"] == want
    # the default keys by all parameters: the same points are not paired
    default = sweep(_draw, grid, repetitions=2, seed=4)
    dby = default.pivot_table(index=["data", "rep"], columns="normalizer", values="x")
    assert not np.array_equal(dby["batch_norm"].to_numpy(), dby["layer_norm"].to_numpy())
    # a callable key gives the key items themselves
    called = sweep(_draw, grid, seed=4, seed_key=lambda p: (p["data"],))
    want0 = np.random.default_rng(seed_sequence(4, 1, 0)).standard_normal()
    assert called[(called.data == 1)]["x"].tolist() == [want0, want0]


def test_sweep_seed_key_is_checked():
    with pytest.raises(ValueError, match="not parameters of the grid"):
        sweep(_draw, {"a": [1]}, seed_key=("b",))
    with pytest.raises(TypeError, match="seed_key"):
        sweep(_draw, {"a": [1]}, seed_key="a")


def test_store_records_the_seed_rule(tmp_path):
    grid = {"a": [1, 2], "b": [0, 1]}
    sweep(_draw, grid, seed=1, store=tmp_path / "s", seed_key=("a",))
    # resumed with the same rule: accepted; with another rule: refused, never mixed
    sweep(_draw, grid, seed=1, store=tmp_path / "s", seed_key=("a",))
    with pytest.raises(ValueError, match="seed_key"):
        sweep(_draw, grid, seed=1, store=tmp_path / "s")
