# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Symbolic derivations
#
# Every closed form of regnorm is derived from first principles with sympy in the
# `derivations` package; the tests prove that regnorm's numeric functions equal these
# expressions. This notebook lists the derivations, renders one, and checks a derived series
# against the exact value and against Monte-Carlo.

# %%
import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from IPython.display import display

import regnorm
from derivations import catalogue, checks
from regnorm import batch_noise
from simulations import batch_noise as mc

for name in catalogue.available():
    print(f"{name:14s} {catalogue.title(name)}")

# %% [markdown]
# ## C1: the exact error and its 1/M series
# `derive("batch_noise")` returns named sympy expressions; `explanations` says what each is.

# %%
res = catalogue.derive("batch_noise")
explain = catalogue.explanations("batch_noise")
for key in ("error_inside", "error_inside_series"):
    print(f"{key}: {explain[key]}")
    display(res[key])

# %% [markdown]
# ## The derived forms against regnorm and against Monte-Carlo
# The exact expression, evaluated by sympy, equals `regnorm.batch_noise.standardization_error`;
# the series to `1/M^4` follows it down to `M ≈ 4` and parts from it below, while the leading
# term `3/(2M)` alone is off by several percent at `M = 8`. Monte-Carlo points: ±2 standard
# errors.

# %%
M_sym = sp.Symbol("M", positive=True)
exact_f = sp.lambdify(M_sym, res["error_inside"], "scipy")
series_f = sp.lambdify(M_sym, res["error_inside_series"], "numpy")
Ms = np.array([2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64])
rng = np.random.default_rng(0)
est = [mc.gaussian_standardization_error(int(m), 50_000, rng=rng) for m in Ms]
print(
    "largest relative difference, sympy vs regnorm:",
    float(np.max(np.abs(exact_f(Ms) / batch_noise.standardization_error(Ms) - 1))),
)

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(Ms, Ms * exact_f(Ms), "-", label="exact, 2 − 2 E[σ_B]")
ax.plot(Ms, Ms * series_f(Ms), "--", label="series to 1/M⁴")
ax.plot(Ms, np.full(Ms.shape, 1.5), ":", color="k", label="leading term 3/(2M)")
ax.errorbar(
    Ms,
    Ms * np.array([e.estimate for e in est]),
    yerr=2 * Ms * np.array([e.stderr for e in est]),
    fmt="o",
    ms=4,
    label="Monte-Carlo (±2 s.e.)",
)
ax.set_xscale("log", base=2)
ax.set_xlabel("batch size M")
ax.set_ylabel("M × standardization error")
ax.set_title("C1: exact error, its series and Monte-Carlo")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## The verdicts of the symbolic checks
# The checks of C5 and C7 in `derivations.checks` (its list `CHECKS`) establish the corrected
# pseudo-inverse limits and the minimizer `zeta = delta2` by sympy.

# %%
symbolic = regnorm.run_claims("C5,C7", checks=checks.CHECKS, quick=True, progress=False)
regnorm.claims.records_to_frame(symbolic)[["id", "kind", "verdict", "analytic", "note"]]

# %% [markdown]
# ## To explore further
# - `print(catalogue.render("krogh_hertz"))` lists every expression of a derivation with its
#   explanation (`latex=True` for LaTeX); `regnorm derive krogh_hertz` prints the same.
# - `catalogue.derive("gamma_decay")["zeta"]` is the gamma-decay coefficient of C4.
# - The generated page of all derivations is in the docs site ("Derivations").
