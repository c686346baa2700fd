"""Each package's public surface is what its ``__all__`` says: names that exist, no modules
mixed in among the functions and classes of a subpackage."""

import importlib
import inspect
import pkgutil

import pytest

import regnorm

SUBPACKAGES = sorted(f"regnorm.{m.name}" for m in pkgutil.iter_modules(regnorm.__path__) if m.ispkg)


@pytest.mark.parametrize("name", ["regnorm", *SUBPACKAGES])
def test_all_names_exist(name):
    mod = importlib.import_module(name)
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_subpackage_all_holds_no_module(name):
    mod = importlib.import_module(name)
    modules = [n for n in mod.__all__ if inspect.ismodule(getattr(mod, n))]
    assert not modules, f"{name}.__all__ lists modules {modules}"


def test_every_layer_is_public():
    from regnorm import normalizers

    layers = {
        cls.__name__
        # base holds the protocol and the abstract classes the layers build on
        for sub in pkgutil.iter_modules(normalizers.__path__)
        if sub.name != "base"
        for cls in vars(importlib.import_module(f"regnorm.normalizers.{sub.name}")).values()
        if inspect.isclass(cls)
        and issubclass(cls, normalizers.Normalizer)
        and cls.__module__ == f"regnorm.normalizers.{sub.name}"
        and not cls.__name__.startswith("_")
    }
    assert layers <= set(normalizers.__all__)
    # the protocol module stays importable by its documented name
    assert importlib.import_module("regnorm.normalizers.base").Normalizer is normalizers.Normalizer
