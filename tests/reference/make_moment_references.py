#!/usr/bin/env python3
"""High-precision reference values for the infinite-width activation moments (issue 13).

For (u, v) ~ N(0, [[q11, q12], [q12, q22]]) it computes K = E[phi(u) phi(v)] and KDot = E[phi'(u) phi'(v)]
for Tanh, Sigmoid, Softplus, Gelu and SiLU (x sigmoid(x), the custom activation of the tests) on a grid of
variances from 1e-8 to 1e8 and correlations in [-1, 1] including exactly +-1, and the infinite-width NNGP and
NTK of [Dense(32), Tanh][Dense(32), Tanh][Dense(1)] (NTK parameterization, WeightStd 1.5, BiasStd 0.2) on three
unit-scale inputs, and writes them to moment-references.json next to this script.

Method (independent of the C# code: other panels, another rule, 20 significant digits): mpmath at mp.dps = 20;
conditioning on u, v | u ~ N(q12 u / q11, q22 - q12^2 / q11); both the inner and the outer 1-D Gaussian
expectations use 16-point Gauss-Legendre on panels covering +-12 standard deviations, 4 standard deviations
wide at most, with extra breakpoints at x = 0, +-1, +-2, +-4, ..., +-128 where they fall inside (phi varies on
a scale of 1 near 0, whatever the variance). Correlation +-1 is the 1-D integral E[phi(u) phi(q12 u / q11)].
The script checks itself: every Gelu value against nt's closed form for Gelu evaluated in mpmath, and a sample
of points (Tanh at q = 1e8, correlation 0.9, SiLU at q = 1, correlation -0.6) against a finer rule (24 points per
panel, Gaussian panels half as wide, breakpoints at +-2^(k/2) from 1/4 on); both discrepancies are stored in the
JSON ("self_check") and must be below 1e-13 relative (to max(|value|, 1e-10), as odd activations give K = 0 at
correlation 0). Measured: coarse vs fine 2e-20; GELU 2.4e-14, at correlation +-1 with unequal variances only, where
q12 = +-sqrt(q11 q22) in float64 leaves a conditional variance of ~1e-16 q22 that 20 digits resolve poorly (at 30
digits the quadrature matches the closed form to 1e-20); the tests need 1e-10.

Run: /usr/bin/python3 make_moment_references.py [OUT.json]  (Debian's python3-mpmath; python3-gmpy2 makes it
faster; about 8 minutes of CPU, spread over two processes). --recheck FILE recomputes the GELU self-check of a
stored file (the stored file was made by one run, whose GELU check still evaluated nt's formula at 20 digits, where
it cancels to 7 at q = 1e8 and correlation -1, and was then rechecked with the 50-digit closed form).
"""

import json
import math
import multiprocessing
import os
import sys

import mpmath as mp

mp.mp.dps = 20

ACTIVATIONS = ["Tanh", "Sigmoid", "Softplus", "Gelu", "Silu"]


def phi(name, x):
    """(phi(x), phi'(x)) in mpmath precision."""
    if name == "Tanh":
        t = mp.tanh(x)
        return t, mp.sech(x) ** 2
    if name == "Sigmoid":
        s = 1 / (1 + mp.exp(-x))
        return s, s * (1 - s) if x < 0 else mp.exp(-x) * s * s
    if name == "Softplus":
        s = 1 / (1 + mp.exp(-x))
        return (x + mp.log1p(mp.exp(-x)) if x > 0 else mp.log1p(mp.exp(x))), s
    if name == "Gelu":
        c = mp.ncdf(x)
        return x * c, c + x * mp.npdf(x)
    if name == "Silu":
        s = 1 / (1 + mp.exp(-x))
        sp = s * (1 - s) if x < 0 else mp.exp(-x) * s * s
        return x * s, s + x * sp
    raise ValueError(name)


_rules = {}


def legendre(n):
    """Gauss-Legendre nodes and weights on [-1, 1] in mpmath precision (Newton on P_n)."""
    if n in _rules:
        return _rules[n]
    nodes, weights = [], []
    for i in range(1, n + 1):
        z = mp.cos(mp.pi * (i - mp.mpf(1) / 4) / (n + mp.mpf(1) / 2))
        for _ in range(100):
            p0, p1 = mp.mpf(1), z
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * z * p1 - (k - 1) * p0) / k
            dp = n * (z * p1 - p0) / (z * z - 1)
            step = p1 / dp
            z -= step
            if abs(step) < mp.mpf(10) ** (-mp.mp.dps - 2):
                break
        nodes.append(z)
        weights.append(2 / ((1 - z * z) * dp * dp))
    _rules[n] = (nodes, weights)
    return _rules[n]


def expect(f, m, t, radius, fine=False):
    """E[f(m + t Z)] for a function returning a pair, Z ~ N(0, 1), whose features lie in |x| < radius."""
    if t == 0:
        return f(m)
    window, width, n = (12, 2, 24) if fine else (12, 4, 16)
    lo, hi = m - window * t, m + window * t
    points = {lo, hi}
    k = -window + width
    while k < window:
        points.add(m + k * t)
        k += width
    features = [mp.mpf(0)]
    scale, ratio = (mp.mpf(1) / 4, mp.sqrt(2)) if fine else (mp.mpf(1), 2)
    while scale < 2 * radius:
        features += [scale, -scale]
        scale *= ratio
    for x in features:
        if lo < x < hi:
            points.add(x)
    points = sorted(points)
    nodes, weights = legendre(n)
    a_sum, b_sum = mp.mpf(0), mp.mpf(0)
    for a, b in zip(points[:-1], points[1:]):
        c, h = (a + b) / 2, (b - a) / 2
        for z, w in zip(nodes, weights):
            x = c + h * z
            fa, fb = f(x)
            d = w * h * mp.npdf(x, m, t)
            a_sum += d * fa
            b_sum += d * fb
    return a_sum, b_sum


RADIUS = 64  # every activation here is affine to 20 digits beyond |x| = 64


def moments(name, q11, q12, q22, fine=False):
    q11, q12, q22 = mp.mpf(q11), mp.mpf(q12), mp.mpf(q22)
    if q11 < q22:
        q11, q22 = q22, q11
    slope = q12 / q11
    sd = mp.sqrt(max(q22 - q12 * slope, 0))

    def outer(u):
        fu, du = phi(name, u)
        fv, dv = expect(lambda v: phi(name, v), slope * u, sd, RADIUS, fine)
        return fu * fv, du * dv

    # E[phi(v) | u] varies in u where |slope u| < RADIUS + 12 sd (inside it, phi's features are smoothed by sd).
    radius = max(RADIUS, (RADIUS + 12 * sd) / abs(slope)) if slope != 0 else RADIUS
    return expect(outer, mp.mpf(0), mp.sqrt(q11), radius, fine)


def gelu_closed_form(q11, q12, q22):
    """neural-tangents' stax.Gelu kernel in mpmath, at 50 digits: at q = 1e8 and correlation -1 the formula cancels
    13 digits (terms of size q, result 1e-13 q)."""
    with mp.workdps(50):
        return _gelu_closed_form(q11, q12, q22)


def _gelu_closed_form(q11, q12, q22):
    q11, q12, q22 = mp.mpf(q11), mp.mpf(q12), mp.mpf(q22)
    prod = (1 + q11) * (1 + q22)
    delta2 = prod - q12 * q12
    delta = mp.sqrt(delta2)
    angle = mp.atan2(q12, delta)
    k = (q12 * q12 + q11 * q22 * delta2) / (prod * delta) + q12 * angle
    k = k / (2 * mp.pi) + q12 / 4
    kdot = (1 / delta2 + (1 - q11 * q22) / prod + 1) * q12 / delta / (2 * mp.pi) + mp.mpf(1) / 4 + angle / (2 * mp.pi)
    return k, kdot


VARIANCE_PAIRS = [(q, q) for q in (1e-8, 1e-2, 1.0, 1e4, 1e8)] + [(1e8, 1e-8), (3.0, 0.5)]
CORRELATIONS = [-1.0, -0.6, 0.0, 0.9, 1 - 1e-6, 1.0]


def point(args):
    name, q11, q22, rho = args
    # q12 as the float64 the C# test will pass, so both sides see the same covariance.
    q12 = float(rho * math.sqrt(q11 * q22)) if abs(rho) < 1 else math.copysign(math.sqrt(q11 * q22), rho)
    k, kdot = moments(name, q11, q12, q22)
    return {"activation": name, "q11": q11, "q12": q12, "q22": q22, "rho": rho,
            "K": mp.nstr(k, 20), "KDot": mp.nstr(kdot, 20)}


def fine_point(args):
    name, q11, q12, q22 = args
    coarse = moments(name, q11, q12, q22)
    fine = moments(name, q11, q12, q22, fine=True)
    return max(abs(c - f) / max(abs(f), 1e-10) for c, f in zip(coarse, fine))


# The tanh network of issue 13: inputs in R^3, unit scale.
NETWORK = {"inputs": [[0.5, -1.2, 0.8], [1.1, 0.3, -0.7], [0.6, -1.1, 0.9]],
           "width": 32, "w_std": 1.5, "b_std": 0.2, "hidden": 2}


def network():
    x = [[mp.mpf(v) for v in row] for row in NETWORK["inputs"]]
    n, d = len(x), len(x[0])
    sw2, sb2 = mp.mpf(NETWORK["w_std"]) ** 2, mp.mpf(NETWORK["b_std"]) ** 2
    gram = [[sum(a * b for a, b in zip(x[i], x[j])) / d for j in range(n)] for i in range(n)]
    sigma = [[sw2 * gram[i][j] + sb2 for j in range(n)] for i in range(n)]
    theta = [row[:] for row in sigma]
    for _ in range(NETWORK["hidden"]):
        k = [[None] * n for _ in range(n)]
        kdot = [[None] * n for _ in range(n)]
        for i in range(n):
            for j in range(i, n):
                k[i][j], kdot[i][j] = moments("Tanh", sigma[i][i], sigma[i][j], sigma[j][j])
                k[j][i], kdot[j][i] = k[i][j], kdot[i][j]
        new_sigma = [[sw2 * k[i][j] + sb2 for j in range(n)] for i in range(n)]
        theta = [[sw2 * kdot[i][j] * theta[i][j] + new_sigma[i][j] for j in range(n)] for i in range(n)]
        sigma = new_sigma
    return {"nngp": [[mp.nstr(v, 20) for v in row] for row in sigma],
            "ntk": [[mp.nstr(v, 20) for v in row] for row in theta]}


def gelu_check(points):
    worst = 0.0
    for p in points:
        if p["activation"] == "Gelu":
            k, kdot = gelu_closed_form(p["q11"], p["q12"], p["q22"])
            worst = max(worst, float(abs(mp.mpf(p["K"]) - k) / max(abs(k), 1e-10)),
                        float(abs(mp.mpf(p["KDot"]) - kdot) / max(abs(kdot), 1e-10)))
    return worst


def recheck(path):
    """--recheck FILE: recompute the GELU self-check of a stored file (cheap) and store it."""
    with open(path) as f:
        result = json.load(f)
    result["self_check"]["gelu_vs_closed_form_max_rel"] = gelu_check(result["points"])
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result["self_check"]))
    if result["self_check"]["gelu_vs_closed_form_max_rel"] > 1e-13:
        sys.exit("self-check failed")


def main():
    tasks = [(a, q11, q22, rho) for a in ACTIVATIONS for (q11, q22) in VARIANCE_PAIRS for rho in CORRELATIONS]
    with multiprocessing.Pool(min(2, os.cpu_count() or 1)) as pool:
        points = pool.map(point, tasks, chunksize=1)
        checks = [(p["activation"], p["q11"], p["q12"], p["q22"]) for p in points
                  if (p["activation"], p["q11"], p["q22"], p["rho"]) in (("Tanh", 1e8, 1e8, 0.9), ("Silu", 1.0, 1.0, -0.6))]
        fine = pool.map(fine_point, checks, chunksize=1)
    gelu = gelu_check(points)
    net = network()
    result = {
        "note": "Made by make_moment_references.py (mpmath, 20 digits, nested 16-point Gauss-Legendre on graded panels; "
                "see its docstring). q12 is the float64 covariance the tests pass. K and KDot are 20-digit decimals.",
        "self_check": {"gelu_vs_closed_form_max_rel": gelu, "coarse_vs_fine_max_rel": float(max(fine)),
                       "fine_points": len(fine)},
        "points": points,
        "network": {**NETWORK, "parameterization": "ntk", **net},
    }
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "moment-references.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result["self_check"]))
    if gelu > 1e-13 or max(fine) > 1e-13:
        sys.exit("self-check failed")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--recheck":
        recheck(sys.argv[2])
    else:
        main()
