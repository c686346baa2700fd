"""THEORY.md's claims: their ids and one-line statements, the vocabulary of every record."""

from __future__ import annotations

__all__ = ["CATALOGUE", "KINDS", "VERDICTS", "claim_order"]

VERDICTS = ("holds", "deviates", "not resolved", "open")

KINDS = ("exact", "asymptotic", "identity", "ordering", "open")

#: One-line statements of THEORY.md's claims; the ids are the toolkit's ids.
CATALOGUE: dict[str, str] = {
    "C1": "Batch-standardizing N(0,1) data with its own batch of M gives MSE ~ 3/(2M); "
    "exactly 2 - 2 E[sigma_B] (x inside the batch, biased std).",
    "C2": "mu_B ~ N(mu_P, sigma_P^2/M), sigma_B ~ N(sigma_P, (rho+2) sigma_P^2/(4M)) as M grows.",
    "C3": "E[(h_hat - h_bar)^2] ~ gamma^2[(rho+2)/(4M) z^2 + (1/M)(1 + 3(rho+2)/(4M))].",
    "C4": "BN loss ~ PN loss + zeta(h) gamma^2 with zeta = (rho+2)/(8M) F_gamma + mu_A''/(2M).",
    "C5": "Pseudo-inverse generalization error: 1 - alpha + alpha d^2/(1-alpha) (alpha<1), "
    "d^2/(alpha-1) (alpha>1).",
    "C6": "WN + gamma decay = ridge regression; eps_wn from the Marchenko-Pastur Stieltjes "
    "transform (Krogh & Hertz).",
    "C7": "eps_wn is minimized at zeta = delta^2 for every alpha.",
    "C8": "A BN student follows eps_wn with an effective zeta (which one is open).",
    "C9": "PN + gamma decay generalizes at least as well as BN.",
    "C10": "WN + mean-only BN and WN + variance-only BN lie between WN and BN in "
    "generalization gap.",
    "C11": "The learned gamma^2 of a BN layer and the test error grow with the batch size.",
    "C12": "Dropout after BN restores regularization lost at large batch; WN + dropout "
    "improves WN.",
    "C13": "PN and WN coincide for Gaussian input with covariance a I.",
    "C14": "Switchable Normalization mixes IN/LN/BN statistics with softmax weights; LN and BN "
    "statistics follow from IN's.",
    "C15": "SN learns a smaller BN weight at smaller batch size.",
    "C16": "At small batch SN gives BN's variance a smaller weight than BN's mean.",
    "C17": "BN/LN/IN/GN statistics axes; GN(G=1)=LN, GN(G=C)=IN.",
    "C18": "Batch-independent norms lose channel normalization or expressivity; "
    "LN/GN + Proxy Norm keep both.",
    "C19": "Proxy Norm output with a Gaussian proxy; closed form for ReLU.",
    "C20": "KernelNorm normalizes each kernel window by its (dropped-out) statistics.",
    "C21": "Fused KNConv equals KernelNorm + convolution and is much faster.",
    "C22": "Only BN (and SN with a BN weight) makes a sample's output depend on the batch.",
}


def claim_order(id: str) -> int:
    """The sort key of a claim id of the catalogue (``"C10"`` after ``"C9"``)."""
    return int(id[1:])
