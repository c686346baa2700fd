"""Strings, bytes, booleans and complex numbers are not real numbers, anywhere in regnorm."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from regnorm import batch_noise, gamma_decay, learning_curves, marchenko_pastur
from regnorm import pn_wn_equivalence as pw
from regnorm.normalizers import PopulationNorm, relu_gaussian_moments
from regnorm.validation import check_real, check_real_array, check_real_dtype

NOT_REAL = ["2", b"2", True, np.bool_(True), 1 + 1j, None, [True, 1.0], ["1", "2"]]


def test_eps_sgd_refuses_a_string_alpha():
    with pytest.raises(TypeError, match=r"alpha must be a real number or array of them"):
        learning_curves.eps_sgd("2", 0.25)


@pytest.mark.parametrize("bad", NOT_REAL, ids=repr)
def test_check_real_array_refuses_what_is_not_real(bad):
    with pytest.raises(TypeError, match=r"^x must be a real number or array of them"):
        check_real_array("x", bad)


@pytest.mark.parametrize(
    "good, expected",
    [
        (2, 2.0),
        (2.5, 2.5),
        (Fraction(1, 4), 0.25),
        (np.int32(3), 3.0),
        (np.float32(0.5), 0.5),
        ([1, 2.5], [1.0, 2.5]),
        (np.arange(3, dtype=np.uint8), [0.0, 1.0, 2.0]),
    ],
)
def test_check_real_array_accepts_real_numbers(good, expected):
    arr = check_real_array("x", good)
    assert arr.dtype == np.float64
    np.testing.assert_array_equal(arr, expected)


@pytest.mark.parametrize("bad", NOT_REAL[:5], ids=repr)
def test_check_real_refuses_what_is_not_real(bad):
    with pytest.raises(TypeError, match=r"^x must be a real number"):
        check_real("x", bad)


@pytest.mark.parametrize(
    "bad", [np.array([True]), np.array(["1"]), np.array([1j]), [1.0, 2.0], 1.0], ids=repr
)
def test_check_real_dtype_refuses_what_is_not_a_real_array(bad):
    with pytest.raises(TypeError, match=r"^h must be an array of real numbers"):
        check_real_dtype("h", bad)


W = np.array([1.0, 2.0, 2.0])
X = np.ones((2, 3))

#: (public function called with one argument not a real number, the argument's name)
CALLS = {
    "eps_sgd": (lambda: learning_curves.eps_sgd(0.5, b"0.25"), "delta2"),
    "eps_wn": (lambda: learning_curves.eps_wn(0.5, "0.1", 0.25), "zeta"),
    "effective_zeta": (lambda: learning_curves.effective_zeta(True, 0.5, 0.25), "eps"),
    "stieltjes": (lambda: marchenko_pastur.stieltjes(0.1, "2"), "alpha"),
    "density": (lambda: marchenko_pastur.density(["1"], 0.5), "lam"),
    "conditional_error": (lambda: batch_noise.conditional_error("1", 4), "z"),
    "wn_parameters": (lambda: pw.wn_parameters(1.0, 0.0, W, mean="0", std=1.0), "mean"),
    "population_normalize": (
        lambda: pw.population_normalize(X, W, 1.0, 0.0, mean=0.0, cov="1"),
        "cov",
    ),
    "population_normalize_gamma": (
        lambda: pw.population_normalize(X, W, True, 0.0, mean=0.0, cov=1.0),
        "gamma",
    ),
    "weight_normalize": (lambda: pw.weight_normalize(X, W, "2", 0.0), "v"),
    "weight_normalize_w": (lambda: pw.weight_normalize(X, np.array(["1", "2", "3"]), 1, 0), "w"),
    "relu_gaussian_moments": (lambda: relu_gaussian_moments(True, 0.0), "a"),
    "relu_gaussian_moments_array": (
        lambda: relu_gaussian_moments(np.ones(2), np.array([True, False])),
        "b",
    ),
    "glm_log_partition": (lambda: gamma_decay.glm_log_partition(np.array(["1"]), "relu"), "h"),
    "zeta_from_data": (lambda: gamma_decay.zeta_from_data(np.array([True, False, True]), 4), "h"),
    "PopulationNorm": (lambda: PopulationNorm(2, mean=["0", "1"]), "mean"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_public_functions_refuse_non_real_arguments_by_name(name):
    call, argument = CALLS[name]
    with pytest.raises(TypeError, match=rf"^{argument} must be a"):
        call()


@pytest.mark.parametrize("bad", [0, 1, "False", "True", None, 1.0])
def test_check_bool_refuses_what_is_not_a_bool(bad):
    from regnorm.validation import check_bool

    with pytest.raises(TypeError, match="center must be True or False"):
        check_bool("center", bad)


def test_check_bool_accepts_bools():
    from regnorm.validation import check_bool

    assert check_bool("center", True) is True
    assert check_bool("center", np.bool_(False)) is False
