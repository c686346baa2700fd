"""The registry of derivations: ``name -> derive()`` returning a dict of named expressions.

Modules are imported lazily (sympy work happens only when a derivation is asked for); each
derivation module defines ``derive() -> dict[str, sympy.Basic]`` and ``EXPLANATIONS`` (one
sentence per key). ``regnorm derive NAME [--latex]`` prints one of them and
``python -m derivations.docs`` writes all of them into ``docs/derivations.md``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["DERIVATIONS", "available", "derive", "explanations", "module", "render", "title"]

#: Derivation name -> (module, the claims it derives).
DERIVATIONS: dict[str, tuple[str, str]] = {
    "batch_noise": ("derivations.batch_noise", "C1"),
    "gamma_decay": ("derivations.gamma_decay", "C2, C3, C4"),
    "krogh_hertz": ("derivations.krogh_hertz", "C5, C6, C7"),
    "mean_only_bn": ("derivations.mean_only_bn", "C8"),
    "proxy_norm": ("derivations.proxy_norm", "C19"),
}


def available() -> list[str]:
    """The names of the registered derivations."""
    return list(DERIVATIONS)


def module(name: str) -> ModuleType:
    """The module of derivation ``name``; ``ValueError`` listing the names if unknown."""
    if name not in DERIVATIONS:
        raise ValueError(f"unknown derivation {name!r}; available: {', '.join(available())}")
    return importlib.import_module(DERIVATIONS[name][0])


def derive(name: str) -> dict:
    """The named expressions of derivation ``name`` (cached by the module)."""
    return module(name).derive()


def explanations(name: str) -> dict[str, str]:
    """One sentence per key of :func:`derive` ``(name)``."""
    return dict(module(name).EXPLANATIONS)


def title(name: str) -> str:
    """The first line of the derivation module's docstring."""
    return (module(name).__doc__ or name).strip().splitlines()[0]


def render(name: str, *, latex: bool = False) -> str:
    """Derivation ``name`` as text: one ``key: expression`` line (or LaTeX) per result."""
    import sympy as sp

    results = derive(name)
    notes = explanations(name)
    lines = [f"{name} ({DERIVATIONS[name][1]}): {title(name)}", ""]
    for key, expr in results.items():
        lines.append(f"# {notes.get(key, '')}")
        text = sp.latex(expr) if latex else sp.sstr(expr)
        lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
