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
# # Teacher–student learning curves (C5–C8)
#
# A linear teacher `y = w*^T x + eps` with `x ~ N(0, I_N)`, label noise of variance `delta2`,
# and `P = alpha N` training samples. The pseudo-inverse student (plain SGD from zero, **C5**)
# diverges at `alpha = 1`; weight normalization with gamma decay is ridge regression (**C6**),
# whose error is minimized at `zeta = delta2` (**C7**); a BN student behaves like ridge with an
# effective `zeta` of order `1/M` (**C8**, open: which coefficient).

# %%
import matplotlib.pyplot as plt
import numpy as np

import regnorm
from regnorm import learning_curves
from simulations import teacher_student as ts

N = 150  # input dimension: larger N brings the finite-N points closer to the N -> inf curves
DELTA2 = 0.25  # label-noise variance
REPETITIONS = 12  # independent data sets per alpha: the standard error falls like 1/sqrt(.)
ALPHAS = np.array([0.25, 0.5, 0.75, 1.5, 2.0, 3.0])
rng = np.random.default_rng(0)

# %% [markdown]
# ## The closed forms
# `eps_sgd = 1 - alpha + alpha delta2/(1 - alpha)` below `alpha = 1`, `delta2/(alpha - 1)`
# above; `eps_wn(alpha, zeta, delta2)` from the Marchenko–Pastur Stieltjes transform.

# %%
grid = np.concatenate([np.linspace(0.05, 0.9, 60), np.linspace(1.1, 3.2, 60)])
print("eps_sgd at alpha = 0.5, 2:", learning_curves.eps_sgd(np.array([0.5, 2.0]), DELTA2))
print("eps_wn at zeta = delta2, alpha = 1:", learning_curves.eps_wn(1.0, DELTA2, DELTA2))
print("optimal zeta:", learning_curves.optimal_zeta(2.0, DELTA2))

# %% [markdown]
# ## Monte-Carlo: the ridge student on simulated data sets
# `ridge_path` gives each data set's generalization error `||v(zeta) - w*||^2` for several
# `zeta` from one SVD (`zeta = 0` is the pseudo-inverse). Mean ± standard error over data sets.

# %%
zetas = np.array([0.0, DELTA2])
rows = []
for alpha in ALPHAS:
    data = ts.teacher(N, int(round(alpha * N)), DELTA2, repetitions=REPETITIONS, rng=rng)
    err = np.asarray(ts.ridge_path(data, zetas))  # shape (REPETITIONS, 2)
    mean, se = err.mean(axis=0), err.std(axis=0, ddof=1) / np.sqrt(REPETITIONS)
    rows.append((alpha, *mean, *se))
    print(
        f"alpha {alpha:4.2f}: pinv {mean[0]:.3f} ± {se[0]:.3f} "
        f"(finite-N exact {learning_curves.finite_n_pinv(N, int(round(alpha * N)), DELTA2):.3f}), "
        f"ridge {mean[1]:.3f} ± {se[1]:.3f} "
        f"(eps_wn {learning_curves.eps_wn(alpha, DELTA2, DELTA2):.3f})"
    )
rows = np.array(rows)

# %%
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(grid, learning_curves.eps_sgd(grid, DELTA2), color="C0", label="pseudo-inverse, C5")
ax.plot(
    grid,
    learning_curves.eps_wn(grid, DELTA2, DELTA2),
    color="C1",
    label=r"ridge $\zeta=\delta^2$, C6–C7",
)
ax.errorbar(
    rows[:, 0],
    rows[:, 1],
    yerr=2 * rows[:, 3],
    fmt="o",
    color="C0",
    ms=4,
    label=f"simulated pseudo-inverse, N = {N} (±2 s.e.)",
)
ax.errorbar(
    rows[:, 0],
    rows[:, 2],
    yerr=2 * rows[:, 4],
    fmt="s",
    color="C1",
    ms=4,
    label="simulated ridge (±2 s.e.)",
)
ax.axvline(1.0, color="0.7", lw=0.8, ls="--")
ax.set_ylim(0, 2)
ax.set_xlabel(r"$\alpha = P/N$")
ax.set_ylabel("generalization error")
ax.set_title(r"Learning curves, $\delta^2 = 0.25$ (pseudo-inverse diverges at $\alpha = 1$)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Near `alpha = 1` the pseudo-inverse points scatter widely from data set to data set: what
# they estimate at finite `N` is `finite_n_pinv` (printed above), which tends to the `N -> inf`
# curve `eps_sgd` as `N` grows.
#
# ## The verdicts
# The registered checks of C7 compare the minimizer of the closed form with `delta2`.

# %%
records = regnorm.run_claims("C7", quick=True, progress=False)
regnorm.claims.records_to_frame(records)[["id", "kind", "verdict", "analytic", "numeric", "note"]]

# %% [markdown]
# ## To explore further
# - Change `DELTA2` (e.g. 0 or 1) and `ALPHAS`; add more `zetas` to see the minimum at
#   `zeta = delta2` for every `alpha` (C7).
# - The BN student of C8: `ts.learning_curve_point({"N": 128, "alpha": 2.0, "delta2": 0.25,
#   "M": 32}, rng)` trains BN and WN students on one data set (minutes at larger `N`);
#   `learning_curves.effective_zeta(eps, alpha, delta2)` maps its error to an effective `zeta`.
# - Full checks: `regnorm verify --claims C5,C6,C7,C8` (C8 is the slow one).
