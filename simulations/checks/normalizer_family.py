"""The claims checks of the normalizer family (THEORY §4): C14, C17, C18, C19, C20, C21, C22.

The measurements are :mod:`simulations.normalizer_family`'s; here they become records.
Sources: articles 000 (SN), 002 (BN/LN/IN/GN), 003 (Proxy Norm), 004 (KernelNorm).

Backends: C14, C17, C18 and C22 (:data:`BACKEND_CHECKS`) run on the backend of the context
(``ctx.backend``, or ``ctx.options["backend"]``; see
:func:`~simulations.checks.batch_noise.check_backend`): their inputs (C14's and C17's one
input, C18's networks, C22's batches) are drawn on its device and the layers run there, only
the records' numbers crossing to the host; their records then carry a ``backend``
parameter. C19-C21 stay on NumPy: they compare the closed forms and layers with independent
host references (SciPy quadrature, a window-by-window KernelNorm loop, KNConv's naive form).
"""

from __future__ import annotations

import math
import types
from typing import Any

import numpy as np

from regnorm.backend import (
    array_namespace,
    backend_param,
    random_generator,
    resolve_backend,
    to_numpy,
)
from regnorm.claims import (
    claim,
    deterministic_record,
    identity_record,
    open_record,
    statistical_record,
)
from regnorm.normalizers import (
    KernelNorm,
    KNConv,
    ProxyNorm,
    SwitchableNorm,
    gaussian_quantiles,
    relu_gaussian_moments,
)
from regnorm.normalizers.registry import label, make_normalizer
from simulations.checks.batch_noise import check_backend
from simulations.normalizer_family import (
    BRN_CLIPS,
    DEPTH_BLOCKS,
    DEPTH_METRICS,
    GHOST_BATCH,
    MIN_CLIP_EVENTS,
    ROUNDING_NOISE,
    ZERO_BY_CONSTRUCTION,
    batch_dependence_noise,
    bn_noise_exact,
    brn_clip_probability,
    kernel_norm_reference,
    noise_prediction,
    proxy_norm_depth_profile,
    relu_moments_by_quadrature,
    sn_noise_factor,
    summarize,
)

__all__ = [
    "BACKEND_CHECKS",
    "CHECKS",
    "check_c14",
    "check_c17",
    "check_c18",
    "check_c19",
    "check_c20",
    "check_c21",
    "check_c22",
    "unit_moment_records",
]


def _sweepless_backend(spec: Any, options: dict):
    """:func:`~simulations.checks.batch_noise.check_backend` of a context's ``backend`` and
    ``options``: a check that runs no sweep passes these, not its context, so that the
    command line (which reads whether a check hands its context on) sees it needs no
    executor."""
    return check_backend(types.SimpleNamespace(backend=spec, options=options))


def _max_abs(a: Any, b: Any) -> float:
    """``max |a - b|`` computed beside the arrays (NumPy arrays, or two of one device)."""
    xp = array_namespace(a, b)
    return float(to_numpy(xp.max(xp.abs(a - b))))


def _random_input(rng, shape=(6, 8, 5, 4), backend=None):
    """Input with per-channel offsets (so that the axes of the statistics matter), drawn on
    ``backend`` from ``rng`` (:func:`regnorm.backend.random_generator`).

    ``normal(loc, scale)`` of NumPy's Generator is ``loc + scale * z`` with its standard
    normal ``z``, so these are the numbers of ``rng.normal(rng.normal(0, 2, ...), 1.5, ...)``.
    """
    g = random_generator(backend, rng)
    loc = 0.0 + 2.0 * g.standard_normal((1, shape[1], 1, 1))
    return loc + 1.5 * g.standard_normal(shape)


def unit_moment_records(cid: str, params: dict, y: Any, axes: tuple[int, ...]):
    """Records that EVERY normalization unit of ``y`` has mean 0 and variance 1.

    The units are the slices over ``axes``; the records give ``max |mean|`` and
    ``max |var - 1|`` over all units (the largest variance alone would pass a layer in which
    one unit has variance 1 and the others less).
    """
    xp = array_namespace(y)
    n_units = math.prod(y.shape) // math.prod(y.shape[a] for a in axes)
    p = dict(params, units=n_units)
    yield deterministic_record(
        cid,
        dict(p, moment="mean"),
        analytic=0.0,
        numeric=float(to_numpy(xp.max(xp.abs(xp.mean(y, axis=axes))))),
        rtol=0.0,
        atol=1e-12,
        note="max |mean| over every unit",
    )
    yield deterministic_record(
        cid,
        dict(p, moment="var"),
        analytic=0.0,
        numeric=float(to_numpy(xp.max(xp.abs(xp.var(y, axis=axes) - 1.0)))),
        rtol=0.0,
        atol=1e-12,
        note="max |var - 1| over every unit",
    )


#: Records of the small-batch normalizers in C22: their statement and note.
_SMALL_BATCH_NOTES = {
    "ghost_batch_norm": (
        f"Ghost BN's batch noise is BN's at its virtual batch size ({GHOST_BATCH} samples)",
        "ghost BN vs PN(0,1): exact 2 - 2E[sigma_B(m)] at m = min(M, 4) H W = {g}",
    ),
    "sync_batch_norm": (
        "Synchronized BN's batch noise is BN's at the whole batch, whatever the shards",
        "SyncBN over shards (M//2, M - M//2) vs PN(0,1): exact 2 - 2E[sigma_B(m)], m = {m}",
    ),
    "batch_renorm": (
        "Batch renormalization's noise is E[(sigma_B - r)^2] + E[(mu_B - d)^2] (clipped r, d)",
        f"BRN(r_max={BRN_CLIPS[0]}, d_max={BRN_CLIPS[1]}), running statistics 0 and 1, vs "
        "PN(0,1): exact truncated chi and normal moments at m = {m}; 0 where no clip acts",
    ),
}


@claim("C22", source="001 §1.1, 002, 003, 004")
def check_c22(ctx):
    quick = ctx.quick
    ms = (2, 8, 32) if quick else (2, 4, 8, 16, 32, 64, 128)
    reps, batches = (6, 10) if quick else (16, 25)
    seed = int(ctx.seed_sequence("C22").generate_state(1)[0])
    backend = check_backend(ctx)
    df = batch_dependence_noise(
        Ms=ms, repetitions=reps, batches=batches, seed=seed, executor=ctx.executor, backend=backend
    )
    on = backend_param(backend)
    s = summarize(df, ["normalizer", "M"], "noise")
    shape = tuple(df.attrs["settings"]["sample_shape"])
    c, h, w = shape
    for row in s.itertuples():
        params = {
            "normalizer": label(row.normalizer),
            "M": row.M,
            "shape": (row.M, *shape),
            "batches": batches,
            "repetitions": reps,
            "seed": seed,
            **on,
        }
        if row.normalizer == "batch_norm":
            yield statistical_record(
                "C22",
                params,
                analytic=float(bn_noise_exact(row.M * h * w)),
                numeric=row.mean,
                stderr=row.stderr,
                dof=row.dof,
                source="001 §1.1",
                note=f"BN vs PN(0,1): exact 2 - 2E[sigma_B(m)], m = M*H*W = {row.M * h * w}",
            )
        elif row.normalizer in _SMALL_BATCH_NOTES:
            statement, note = _SMALL_BATCH_NOTES[row.normalizer]
            note = note.format(M=row.M, m=row.M * h * w, g=min(row.M, GHOST_BATCH) * h * w)
            events = reps * batches * c * brn_clip_probability(row.M * h * w)
            if row.normalizer == "batch_renorm" and events < MIN_CLIP_EVENTS:
                # a rare-event mean: with few clip events expected, the sample's standard
                # error says nothing about the law's value (it is ~0 when none occurred)
                yield open_record(
                    "C22",
                    params,
                    numeric=row.mean,
                    stderr=row.stderr,
                    analytic=noise_prediction(row.normalizer, row.M),
                    statement=statement,
                    note=f"{note}; clips act in {events:.3g} of the measured channel-batches "
                    f"in expectation (< {MIN_CLIP_EVENTS}): this budget cannot resolve the law",
                    source="THEORY §1 (C1's law of sigma_B and mu_B) applied to the layer",
                )
                continue
            yield statistical_record(
                "C22",
                params,
                analytic=noise_prediction(row.normalizer, row.M),
                numeric=row.mean,
                stderr=row.stderr,
                dof=row.dof,
                statement=statement,
                note=note,
                source="THEORY §1 (C1's law of sigma_B and mu_B) applied to the layer",
            )
        elif row.normalizer == "switchable_norm":
            bn = s[(s.normalizer == "batch_norm") & (s.M == row.M)]["mean"].iloc[0]
            factor = sn_noise_factor(SwitchableNorm(c))
            yield statistical_record(
                "C22",
                params,
                analytic=factor * float(bn_noise_exact(row.M * h * w)),
                numeric=row.mean,
                stderr=row.stderr,
                dof=row.dof,
                kind="asymptotic",
                statement="SN's batch noise = (2 w_mu^2 + w_var^2)/3 x BN's, to first order",
                note=f"SN (initial weights) vs SN with population BN statistics; measured "
                f"{row.mean / bn:.4f} x BN's noise at this M, first order {factor:.4f}",
                source="derived here (first order in the BN statistics' fluctuation)",
            )
        else:
            # Per-sample statistics are the same numbers whether or not the sample has
            # neighbours, up to the summation order of the reductions: rounding, not bits.
            yield deterministic_record(
                "C22",
                params,
                analytic=0.0,
                numeric=row.mean,
                rtol=0.0,
                atol=ROUNDING_NOISE,
                note="sample in the batch vs the sample alone: mean squared difference at "
                "rounding level (O(1) outputs: atol 1e-24 on the squared difference)",
            )


@claim("C18", source="003")
def check_c18(ctx):
    quick = ctx.quick
    cfg = (
        dict(depth=10, width=16, size=8, batch=16, repetitions=4)
        if quick
        else dict(depth=40, width=32, size=8, batch=32, repetitions=8)
    )
    seed = int(ctx.seed_sequence("C18").generate_state(1)[0])
    backend = check_backend(ctx)
    df = proxy_norm_depth_profile(seed=seed, executor=ctx.executor, backend=backend, **cfg)
    settings = df.attrs["settings"]
    last = df[df.depth == settings["depth"]]
    s = summarize(last, ["norm", "metric"], "value").set_index(["norm", "metric"])
    on = backend_param(backend)
    params = dict(cfg, seed=seed, network="plain 3x3 conv ReLU, He init, Gaussian input", **on)
    for norm in DEPTH_BLOCKS:
        for metric in DEPTH_METRICS:
            r = s.loc[(norm, metric)]
            p = dict(params, norm=norm, metric=metric)
            if (norm, metric) in ZERO_BY_CONSTRUCTION:
                yield identity_record(
                    "C18",
                    p,
                    analytic=0.0,
                    numeric=r["mean"],
                    atol=1e-20,
                    note="zero by construction of the normalization axes",
                )
            else:
                yield open_record(
                    "C18", p, numeric=r["mean"], stderr=r["stderr"], note=f"at depth {cfg['depth']}"
                )
    # the comparisons the article makes, as measured ratios
    csm = {n: s.loc[(n, "channel_sq_mean")] for n in DEPTH_BLOCKS}
    for base in ("LN", "GN"):
        with_pn = csm[f"{base}+PN"]
        yield open_record(
            "C18",
            dict(params, comparison=f"{base} vs {base}+PN", metric="channel_sq_mean"),
            numeric=csm[base]["mean"] / max(with_pn["mean"], 1e-300),
            note=(
                f"ratio of channel squared means at depth {cfg['depth']}: {base} "
                f"{csm[base]['mean']:.3g}+-{csm[base]['stderr']:.2g} vs {base}+PN "
                f"{with_pn['mean']:.3g}+-{with_pn['stderr']:.2g}"
            ),
        )
    imv = {n: s.loc[(n, "instance_mean_var")] for n in DEPTH_BLOCKS}
    yield open_record(
        "C18",
        dict(params, comparison="expressivity", metric="instance_mean_var"),
        numeric=imv["LN+PN"]["mean"],
        stderr=imv["LN+PN"]["stderr"],
        note="variance of instance means at depth {}: ".format(cfg["depth"])
        + ", ".join(f"{n} {imv[n]['mean']:.3g}" for n in DEPTH_BLOCKS),
    )


_PROXY_GRID = ((1.0, 0.0), (0.5, 1.0), (2.0, -1.0), (1.0, -2.0), (0.3, 0.1))


@claim("C19", source="003")
def check_c19(ctx):
    for a, b in _PROXY_GRID:
        m, v = relu_gaussian_moments(a, b)
        qm, qv = relu_moments_by_quadrature(a, b)
        for what, x, y in (("mean", m, qm), ("variance", v, qv)):
            yield deterministic_record(
                "C19",
                {"gamma": a, "beta": b, "moment": what, "against": "quadrature"},
                analytic=y,
                numeric=x,
                rtol=1e-9,
                note="closed form vs adaptive quadrature (epsrel 1e-13)",
            )
    z = gaussian_quantiles(200)
    yield deterministic_record(
        "C19",
        {"quantiles": 200, "moment": "proxy variance"},
        analytic=0.9936,
        numeric=float(np.var(z)),
        rtol=1e-4,
        note="variance of the reference's 200 mid-point quantiles (article: 0.9936)",
    )
    for a, b in _PROXY_GRID:
        layer = ProxyNorm(1, proxy="quantile", num_quantiles=200)
        layer.params["gamma"], layer.params["beta"] = np.asarray([a]), np.asarray([b])
        qm, qv, _ = layer.proxy_moments()
        m, v = relu_gaussian_moments(a, b)
        for what, exact, quant in (("mean", m, float(qm[0])), ("variance", v, float(qv[0]))):
            yield open_record(
                "C19",
                {"gamma": a, "beta": b, "moment": what, "against": "200 quantiles"},
                analytic=exact,
                numeric=quant,
                note=f"200-quantile proxy is {100 * (quant - exact) / exact:+.3f}% off the "
                "exact Gaussian moment (regnorm's ReLU default is the closed form)",
            )


@claim("C17", source="002")
def check_c17(ctx):
    backend = _sweepless_backend(ctx.backend, ctx.options)
    on = backend_param(backend)
    x = _random_input(ctx.rng("C17"), backend=backend)
    tol = {"rtol": 0.0, "atol": 1e-12}
    for groups, other in ((1, "layer_norm"), (8, "instance_norm")):
        gn = make_normalizer("group_norm", 8, num_groups=groups, xp=backend)
        yield deterministic_record(
            "C17",
            {"identity": f"GN(G={'1' if groups == 1 else 'C'}) = {label(other)}", **on},
            analytic=0.0,
            numeric=_max_abs(gn.forward(x), make_normalizer(other, 8, xp=backend).forward(x)),
            **tol,
        )
    axes = {"batch_norm": (0, 2, 3), "layer_norm": (1, 2, 3), "instance_norm": (2, 3)}
    for name, ax in axes.items():
        y = make_normalizer(name, 8, affine=False, eps=1e-300, xp=backend).forward(x)
        params = {"normalizer": label(name), "axes": ax, **on}
        yield from unit_moment_records("C17", params, y, ax)


@claim("C14", source="000")
def check_c14(ctx):
    backend = _sweepless_backend(ctx.backend, ctx.options)
    on = backend_param(backend)
    dev = resolve_backend(backend)
    xp = dev.xp
    x = _random_input(ctx.rng("C14"), backend=backend)
    sn = SwitchableNorm(8, xp=backend)
    st = sn.statistics(x)
    for name, ax in {"LN": (1, 2, 3), "BN": (0, 2, 3)}.items():
        mu, var = st[name.lower()]
        for what, got, want in (
            ("mean", mu, xp.mean(x, axis=ax, keepdims=True)),
            ("var", var, xp.var(x, axis=ax, keepdims=True)),
        ):
            largest = float(to_numpy(xp.max(xp.abs(want))))
            yield deterministic_record(
                "C14",
                {"derived": f"{name} {what} from IN's", **on},
                analytic=0.0,
                numeric=_max_abs(got, want),
                atol=1e-12,
                rtol=0.0,
                note=f"max |derived - direct| (|{what}| up to {largest:.3g})",
            )
    # SN's weights are ordered (IN, LN, BN)
    for k, name in enumerate(("instance_norm", "layer_norm", "batch_norm")):
        logits = np.full(3, -1e3)
        logits[k] = 0.0
        sn = SwitchableNorm(8, xp=backend)
        sn.params["mean_logits"] = dev.asarray(logits)
        sn.params["var_logits"] = dev.asarray(logits.copy())
        yield deterministic_record(
            "C14",
            {"one_hot": label(name), **on},
            analytic=0.0,
            numeric=_max_abs(sn.forward(x), make_normalizer(name, 8, xp=backend).forward(x)),
            atol=1e-12,
            rtol=0.0,
            note="SN with one-hot weights vs the normalizer itself",
        )


@claim("C20", source="004")
def check_c20(ctx):
    x = ctx.rng("C20").standard_normal((2, 4, 7, 7))
    for k, s, p in ((2, 2, 0), (3, 1, 1), (3, 2, 1)):
        y = KernelNorm(k, stride=s, padding=p, eps=1e-300).forward(x)
        n, c, hk, wk = y.shape
        units = y.reshape(n, c, hk // k, k, wk // k, k)
        params = {"kernel_size": k, "stride": s, "padding": p, "output": (n, c, hk, wk)}
        yield from unit_moment_records("C20", params, units, (1, 3, 5))
    for k, s, p in ((2, 1, 0), (3, 2, 1)):
        layer = KernelNorm(k, stride=s, padding=p, dropout=0.5, rng=ctx.rng("C20", "mask", k))
        got = layer.forward(x, training=True)
        want = kernel_norm_reference(x, k, s, p, 0.5, ctx.rng("C20", "mask", k), layer.eps)
        yield deterministic_record(
            "C20",
            {"kernel_size": k, "stride": s, "padding": p, "dropout": 0.5, "mode": "training"},
            analytic=0.0,
            numeric=_max_abs(got, want),
            atol=1e-12,
            rtol=0.0,
            note="max |KernelNorm - window-by-window reference| with the same dropout masks",
        )
    drop = KernelNorm(2, stride=1, dropout=0.5, rng=ctx.rng("C20", "dropout"))
    plain = KernelNorm(2, stride=1)
    yield deterministic_record(
        "C20",
        {"dropout": 0.5, "mode": "eval"},
        analytic=0.0,
        numeric=_max_abs(drop.forward(x, training=False), plain.forward(x)),
        atol=0.0,
        rtol=0.0,
        note="dropout is off in evaluation",
    )


@claim("C21", source="004")
def check_c21(ctx):
    x = ctx.rng("C21").standard_normal((2, 8, 9, 9))
    for k, s, p in ((3, 3, 0), (3, 1, 1), (2, 2, 1)):
        layer = KNConv(8, 6, k, stride=s, padding=p, rng=ctx.rng("C21", k, s, p))
        fused, naive = layer.forward(x), layer.forward_naive(x)
        scale = float(np.abs(naive).max())
        yield deterministic_record(
            "C21",
            {"kernel_size": k, "stride": s, "padding": p, "in": 8, "out": 6},
            analytic=0.0,
            numeric=_max_abs(fused, naive) / scale,
            atol=1e-12,
            rtol=0.0,
            note="max |fused - naive| / max |naive|",
        )


CHECKS = [check_c14, check_c17, check_c18, check_c19, check_c20, check_c21, check_c22]

#: The checks of :data:`CHECKS` that run on any backend (see the module docstring).
BACKEND_CHECKS = [check_c14, check_c17, check_c18, check_c22]
