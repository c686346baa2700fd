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
# # Regularization experiments (C9–C12, C15, C16)
#
# Does the noise of batch statistics regularize beyond the linear student? The article
# shows it on a CIFAR-10 CNN; regnorm tests it on a two-layer ReLU teacher–student problem that
# runs on a CPU. **C10**: the mean and the variance of the batch regularize differently —
# WN + mean-only BN and WN + variance-only BN should lie between WN and BN in generalization
# gap. C9 (PN + gamma decay vs BN), C11 (learned `gamma^2` against batch size), C12 (dropout
# after BN) and C15–C16 (Switchable Norm's learned weights) follow the same pattern:
# one experiment function returning a tidy table, paired over seeds.
#
# There is no closed form for these claims: each verdict is an *ordering*, judged on the
# difference paired over seeds (the same teacher, data and initialization for both methods)
# with its Student-t interval.

# %%
import matplotlib.pyplot as plt
import numpy as np

import regnorm
from regnorm.estimates import group_summary, paired_difference, t_half_width
from simulations import regularization as reg

# %% [markdown]
# ## The experiment at its quick size
# Five methods at one small batch size; one row per (method, seed). `quick=True` is the
# size of `regnorm verify --quick` (about 20 s here).

# %%
df = reg.mean_variance_noise(quick=True, seed=0)
methods = list(reg.C10_METHODS)
group_summary(df, ["method"], "gap").set_index("method").loc[methods]

# %% [markdown]
# ## Paired differences, the quantity the verdicts judge
# For each partial-BN method, its gap minus BN's and minus WN's, per seed; mean with its 95%
# Student-t interval. "Between BN and WN" means the first is positive and the second negative.

# %%
gaps = {m: df[df["method"] == m].sort_values("rep")["gap"].to_numpy() for m in methods}
partial = ("batch_norm_mean", "batch_norm_variance")
pairs = [(mid, ref) for mid in partial for ref in ("batch_norm", "weight_norm")]
diffs = [paired_difference(gaps[mid], gaps[ref]) for mid, ref in pairs]
fig, ax = plt.subplots(figsize=(6, 3.4))
y = np.arange(len(pairs))
ax.errorbar(
    [d.value for d in diffs],
    y,
    xerr=[t_half_width(d.stderr, d.dof) for d in diffs],
    fmt="o",
    capsize=3,
)
ax.axvline(0.0, color="0.5", lw=0.8)
ax.set_yticks(y, [f"{mid} − {ref}" for mid, ref in pairs])
ax.set_xlabel("paired difference of generalization gap (95% t-interval)")
ax.set_title(f"C10 at M = {int(df['M'].iloc[0])}, {len(gaps['batch_norm'])} seeds")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The verdicts
# `run_claims("C10")` runs the same experiment (same seed, same numbers) and judges each paired
# difference: `holds`, `deviates`, or `not resolved` when the interval straddles the margin.

# %%
records = regnorm.run_claims("C10", quick=True, progress=False)
regnorm.claims.records_to_frame(records)[["id", "kind", "verdict", "numeric", "low", "high"]]

# %% [markdown]
# ## To explore further
# - `reg.mean_variance_noise(M=4, quick=True)`: a smaller batch makes the batch noise larger.
# - `reg.bn_vs_pn` (C9), `reg.batch_size_gamma` (C11), `reg.dropout_experiment` (C12) and
#   `simulations.switchable_weights.switchable_weights` (C15, C16) return tables of the same
#   shape; `regnorm.estimates.paired_difference` and `group_summary` summarize them.
# - `executor="processes:2"` runs the seeds in parallel with the same numbers.
# - Full size: `regnorm verify --claims C9,C10,C11,C12,C15,C16` (tens of minutes).
