"""The normalizer vocabulary: every spelling resolves to one canonical name, anything else is
refused with the names, and the registry builds the layers a family would build by hand."""

from __future__ import annotations

import numpy as np
import pytest

from regnorm import normalizers as nz
from regnorm.backend import to_numpy
from regnorm.normalizers import (
    NORMALIZER_NAMES,
    canonical_name,
    label,
    make_normalizer,
    normalizer_class,
)
from tests.regnorm.normalizer_cases import CASES
from tests.tolerances import assert_allclose_rounding

EPS = 1e-5

#: spellings a user may write -> the canonical name (labels, class names, other cases)
SPELLINGS = {
    "none": "none",
    "NONE": "none",
    "BN": "batch_norm",
    "bn": "batch_norm",
    "BatchNorm": "batch_norm",
    "batchnorm": "batch_norm",
    "Batch_Norm": "batch_norm",
    "BN-mean": "batch_norm_mean",
    "batch_norm_mean": "batch_norm_mean",
    "BN-var": "batch_norm_variance",
    "BATCH_NORM_VARIANCE": "batch_norm_variance",
    "PN": "population_norm",
    "PopulationNorm": "population_norm",
    "LN": "layer_norm",
    "LayerNorm": "layer_norm",
    "IN": "instance_norm",
    "InstanceNorm": "instance_norm",
    "GN": "group_norm",
    "GroupNorm": "group_norm",
    "WN": "weight_norm",
    "WeightNorm": "weight_norm",
    "SN": "switchable_norm",
    "SwitchableNorm": "switchable_norm",
    "ProxyNorm": "proxy_norm",
    "proxynorm": "proxy_norm",
    "KN": "kernel_norm",
    "KernelNorm": "kernel_norm",
    "KNConv": "kn_conv",
    "GhostBN": "ghost_batch_norm",
    "GhostBatchNorm": "ghost_batch_norm",
    "SyncBN": "sync_batch_norm",
    "SyncBatchNorm": "sync_batch_norm",
    "BRN": "batch_renorm",
    "BatchRenorm": "batch_renorm",
    "RMSNorm": "rms_norm",
    "rms_norm": "rms_norm",
}


@pytest.mark.parametrize("spelling, expected", sorted(SPELLINGS.items()))
def test_every_spelling_resolves_to_its_canonical_name(spelling, expected):
    assert canonical_name(spelling) == expected


@pytest.mark.parametrize("name", NORMALIZER_NAMES)
def test_canonical_name_label_and_class_name_each_resolve(name):
    assert canonical_name(name) == name
    assert canonical_name(name.upper()) == name
    assert canonical_name(label(name)) == name
    assert label(label(name)) == label(name)
    cls = normalizer_class(name)
    if cls is not None and name not in ("batch_norm_mean", "batch_norm_variance"):
        assert canonical_name(cls.__name__) == name


def test_the_names_are_the_documented_snake_case_vocabulary():
    assert set(NORMALIZER_NAMES) == {
        "none",
        "batch_norm",
        "batch_norm_mean",
        "batch_norm_variance",
        "population_norm",
        "layer_norm",
        "instance_norm",
        "group_norm",
        "weight_norm",
        "switchable_norm",
        "proxy_norm",
        "kernel_norm",
        "kn_conv",
        "ghost_batch_norm",
        "sync_batch_norm",
        "batch_renorm",
        "rms_norm",
    }
    labels = [label(n) for n in NORMALIZER_NAMES]
    assert len(set(labels)) == len(labels)
    assert [label(n) for n in ("batch_norm", "layer_norm", "instance_norm", "group_norm")] == [
        "BN",
        "LN",
        "IN",
        "GN",
    ]
    assert label("population_norm") == "PN" and label("switchable_norm") == "SN"


@pytest.mark.parametrize("bad", ["bachnorm", "", "batch norm", "wn_mean_bn", "BN ", "norm"])
def test_unknown_names_are_refused_with_the_allowed_names(bad):
    with pytest.raises(ValueError, match=r"normalizer=.* is not a normalizer; choose one of") as e:
        canonical_name(bad)
    assert repr(bad) in str(e.value)
    assert all(repr(n) in str(e.value) for n in NORMALIZER_NAMES)
    for fn in (label, normalizer_class):
        with pytest.raises(ValueError, match="is not a normalizer"):
            fn(bad)
    with pytest.raises(ValueError, match=r"name=.* is not a normalizer"):
        make_normalizer(bad, 3)


def test_the_error_names_the_callers_parameter():
    with pytest.raises(ValueError, match=r"^norm='xyz' is not a normalizer"):
        canonical_name("xyz", parameter="norm")


@pytest.mark.parametrize("bad", [None, 3, nz.BatchNorm, ("bn",), b"bn"])
def test_a_non_string_is_refused_with_a_type_error(bad):
    with pytest.raises(TypeError, match="normalizer must be a normalizer name"):
        canonical_name(bad)
    with pytest.raises(TypeError, match="name must be a normalizer name"):
        make_normalizer(bad, 3)


def test_none_is_no_layer():
    assert normalizer_class("none") is None
    assert make_normalizer("none", 3) is None
    assert make_normalizer("NONE", 3, eps=0.1) is None


def test_every_registry_name_has_a_test_case():
    """The input and dtype tests (normalizer_cases) cover every layer of the registry."""
    covered = {name for name, _ in CASES.values()}
    assert covered == set(NORMALIZER_NAMES) - {"none"}


# -- the layers built by the registry are the hand-built ones -------------------------------
def _x(shape=(6, 4, 4, 4), seed=0):
    return np.random.default_rng(seed).normal(0.4, 1.3, size=shape)


HAND_BUILT = {
    "batch_norm": (lambda: nz.BatchNorm(4, eps=EPS), {}),
    "batch_norm_mean": (lambda: nz.BatchNorm(4, center=True, scale=False, eps=EPS), {}),
    "batch_norm_variance": (lambda: nz.BatchNorm(4, center=False, scale=True, eps=EPS), {}),
    "population_norm": (lambda: nz.PopulationNorm(4, eps=EPS), {}),
    "layer_norm": (lambda: nz.LayerNorm(4, eps=EPS), {}),
    "instance_norm": (lambda: nz.InstanceNorm(4, eps=EPS), {}),
    "group_norm": (lambda: nz.GroupNorm(2, 4, eps=EPS), {"num_groups": 2}),
    "weight_norm": (lambda: nz.WeightNorm(4, 4, rng=3), {"rng": 3}),
    "switchable_norm": (lambda: nz.SwitchableNorm(4, eps=EPS), {}),
    "proxy_norm": (lambda: nz.ProxyNorm(4, eps=EPS), {}),
    "kernel_norm": (lambda: nz.KernelNorm(2, eps=EPS), {"kernel_size": 2}),
    "kn_conv": (lambda: nz.KNConv(4, 4, 2, rng=3, eps=EPS), {"kernel_size": 2, "rng": 3}),
    "ghost_batch_norm": (
        lambda: nz.GhostBatchNorm(4, virtual_batch_size=3, eps=EPS),
        {"virtual_batch_size": 3},
    ),
    "sync_batch_norm": (lambda: nz.SyncBatchNorm(4, eps=EPS), {}),
    "batch_renorm": (lambda: nz.BatchRenorm(4, eps=EPS), {}),
    "rms_norm": (lambda: nz.RMSNorm(4, eps=EPS), {}),
}


def test_hand_built_table_covers_the_registry():
    assert set(HAND_BUILT) == set(NORMALIZER_NAMES) - {"none"}


@pytest.mark.parametrize("name", sorted(HAND_BUILT))
def test_registry_layer_equals_the_hand_built_one(name):
    build, needed = HAND_BUILT[name]
    # WeightNorm has no eps; the others get the hand-built one's explicitly
    extra = {} if name == "weight_norm" else {"eps": EPS}
    ours, hand = make_normalizer(name, 4, **extra, **needed), build()
    assert type(ours) is type(hand) and repr(ours) == repr(hand)
    assert normalizer_class(name) is type(hand)
    x = _x()
    for training in (True, False):
        y_ours = ours.forward(x, training=training)
        y_hand = hand.forward(x, training=training)
        np.testing.assert_array_equal(y_ours, y_hand)
        dy = np.random.default_rng(1).normal(size=y_hand.shape)
        np.testing.assert_array_equal(ours.backward(dy), hand.backward(dy))
        for key in hand.grads:
            np.testing.assert_array_equal(ours.grads[key], hand.grads[key])


def test_bn_variants_subtract_the_mean_only_or_divide_by_the_scale_only(xp):
    """Against the formulas written in NumPy: mean-only ``x - mu_B``, variance-only
    ``x / sqrt(sigma_B^2 + eps)`` with the centred (biased) ``sigma_B``."""
    x = _x()
    mu = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    mean_only = to_numpy(make_normalizer("batch_norm_mean", 4, xp=xp).forward(xp.asarray(x)))
    variance_only = to_numpy(
        make_normalizer("batch_norm_variance", 4, eps=EPS, xp=xp).forward(xp.asarray(x))
    )
    assert_allclose_rounding(mean_only, x - mu, ops=x.size, atol=1e-15)
    assert_allclose_rounding(variance_only, x / np.sqrt(var + EPS), ops=x.size)


def test_make_normalizer_refuses_an_argument_that_contradicts_the_name():
    with pytest.raises(ValueError, match=r"scale=True contradicts normalizer 'batch_norm_mean'"):
        make_normalizer("batch_norm_mean", 4, scale=True)
    with pytest.raises(ValueError, match=r"center=True contradicts .*'batch_norm_variance'"):
        make_normalizer("BN-var", 4, center=True)
    layer = make_normalizer("batch_norm_mean", 4, scale=False, center=True)  # agreeing is fine
    assert (layer.center, layer.scale) == (True, False)
    with pytest.raises(TypeError, match="scale must be True or False"):
        make_normalizer("batch_norm_mean", 4, scale=np.False_)


@pytest.mark.parametrize(
    "name, needed",
    [
        ("group_norm", "num_groups"),
        ("kernel_norm", "kernel_size"),
        ("kn_conv", "kernel_size"),
        ("ghost_batch_norm", "virtual_batch_size"),
    ],
)
def test_a_missing_required_argument_is_named(name, needed):
    with pytest.raises(TypeError, match=rf"make_normalizer\('{name}', ...\) needs {needed}="):
        make_normalizer(name, 4)


def test_arguments_reach_the_class_and_its_validation():
    assert make_normalizer("weight_norm", 4, out_channels=2).out_channels == 2
    assert make_normalizer("kn_conv", 4, kernel_size=2).out_channels == 4
    assert make_normalizer("kernel_norm", None, kernel_size=2).num_channels is None
    with pytest.raises(ValueError, match="num_groups=3 must divide num_channels=4"):
        make_normalizer("group_norm", 4, num_groups=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'momentum'"):
        make_normalizer("layer_norm", 4, momentum=0.1)
    with pytest.raises(ValueError, match="num_channels must be"):
        make_normalizer("layer_norm", 0)


def test_docstring_examples():
    import doctest

    from regnorm.normalizers import registry

    result = doctest.testmod(registry, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
