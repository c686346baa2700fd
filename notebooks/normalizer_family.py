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
# # The normalizer family (C14, C17–C22)
#
# BN, LN, IN and GN differ in the axes their statistics are taken over (**C17**); Switchable
# Norm mixes their statistics with learned weights (**C14**); Proxy Norm standardizes with the
# moments of a Gaussian proxy (**C19**); KernelNorm normalizes each kernel window (**C20**,
# **C21**). Only BN's output for one sample depends on the rest of its batch (**C22**).

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import regnorm
from regnorm import normalizers
from simulations import normalizer_family as nf

rng = np.random.default_rng(0)

# %% [markdown]
# ## C17: the axes of the statistics
# On an input of shape `(N, C, H, W)`, GN with one group is LN and GN with `C` groups is IN.

# %%
x = rng.standard_normal((4, 6, 5, 5))
ln, gn1 = normalizers.LayerNorm(6), normalizers.GroupNorm(1, 6)
inorm, gnc = normalizers.InstanceNorm(6), normalizers.GroupNorm(6, 6)
print("max |GN(G=1) - LN| =", np.abs(gn1(x) - ln(x)).max())
print("max |GN(G=C) - IN| =", np.abs(gnc(x) - inorm(x)).max())

# %% [markdown]
# ## C19: the moments of the Proxy Norm proxy — closed form against Monte-Carlo
# The mean and variance of `relu(a z + b)` for `z ~ N(0, 1)`; the standard error of the
# sample variance is that of the mean of the squared deviations.

# %%
a, b = 1.3, -0.4
mean, var = normalizers.relu_gaussian_moments(a, b)
draws = np.maximum(a * rng.standard_normal(400_000) + b, 0.0)
n = draws.size
sq = (draws - draws.mean()) ** 2
for name, exact, est, se in [
    ("mean", mean, draws.mean(), draws.std(ddof=1) / np.sqrt(n)),
    ("variance", var, sq.mean() * n / (n - 1), sq.std(ddof=1) / np.sqrt(n)),
]:
    print(
        f"{name}: closed form {float(exact):.5f}, Monte-Carlo {est:.5f} ± {se:.1e} "
        f"(z = {(est - float(exact)) / se:+.2f})"
    )

# %% [markdown]
# ## C22: batch dependence against the batch size
# The squared change of one sample's output when the rest of its batch is redrawn. Each sample
# here is 8 channels of 4 × 4 pixels, so a BN statistic is taken over `m = 16 M` values and
# BN's noise is C1's exact error at `m` (`nf.bn_noise_exact`). Error bars: ±2 s.e. over
# repetitions.

# %%
Ms = (2, 4, 8, 16, 32)
df = nf.batch_dependence_noise(["BN", "SN", "LN", "GN"], Ms=Ms, repetitions=8, batches=10)
summary = nf.summarize(df, ["normalizer", "M"], "noise")
display(summary)

# %%
fig, ax = plt.subplots(figsize=(6, 3.8))
m_line = np.geomspace(2, 32, 50)
ax.plot(m_line, nf.bn_noise_exact(16 * m_line), color="0.6", lw=3, label="BN exact, C1 at m = 16 M")
for i, name in enumerate(["batch_norm", "switchable_norm"]):
    s = summary[summary["normalizer"] == name]
    ax.errorbar(
        s["M"],
        s["mean"],
        yerr=2 * s["stderr"],
        fmt="o-",
        color=f"C{i}",
        ms=4,
        label=f"{normalizers.registry.label(name)} (simulated)",
    )
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("batch size M")
ax.set_ylabel("batch-dependence noise")
ax.set_title("Only batch statistics make a sample depend on its batch")
ax.legend(fontsize=8)
plt.show()
# LN and GN are drawn on no log axis: their noise is rounding error, far below BN's.
print(
    "largest LN or GN noise: {:.1e}".format(
        summary[summary["normalizer"].isin(["layer_norm", "group_norm"])]["mean"].abs().max()
    )
)

# %% [markdown]
# ## The verdicts

# %%
records = regnorm.run_claims("C17,C19", quick=True, progress=False)
regnorm.claims.records_to_frame(records)[["id", "kind", "verdict", "analytic", "numeric", "note"]]

# %% [markdown]
# ## To explore further
# - Add `"IN"`, `"KN"`, `"ProxyNorm"` to the `batch_dependence_noise` list (names:
#   `list(nf.BATCH_NORMALIZERS)`), or larger `Ms`.
# - `nf.proxy_norm_depth_profile(depth=10, repetitions=2)` measures C18 (channel means and
#   instance statistics by depth) for `list(nf.DEPTH_BLOCKS)`.
# - `normalizers.SwitchableNorm(C)` exposes its six control parameters (C14);
#   `normalizers.KNConv` against `KernelNorm` followed by a convolution is C21.
# - Full checks: `regnorm verify --claims C14,C17,C18,C19,C20,C21,C22`.
