#!/usr/bin/env python3
"""Reference values of atan2(y, x) in float64 for the vectorized atan2 of the spatial arc-cosine maps (issue 15).

Writes atan2-references.json next to this script: "cases" is a list of [y, x, atan2(y, x)] with y and x exact doubles
and the third value atan2 evaluated by mpmath at 50 significant digits and rounded to the nearest double. The points
cover the whole double range (magnitudes 1e-320 .. 1e308, so subnormal arguments and subnormal results too), both
signs of both arguments, ratios |y / x| from 1e-25 to 1e25 and densely around the algorithm's switching points
(|y / x| near 0.66, 1 and 1/0.66), the signed zeros, equal magnitudes (the arc-cosine maps' diagonal, rho = +-1),
and the arguments the ReLU map makes: y = sqrt(max(q11 q22 - q12^2, 0)), x = q12 for correlations near +-1.
Infinities and NaN are not JSON numbers; the tests check those against Math.Atan2 directly.

Run: /usr/bin/python3 make_atan2_references.py  (Debian's python3-mpmath; a few seconds). Deterministic (seed 15).
"""

import json
import math
import os
import random

import mpmath as mp

mp.mp.dps = 50


def reference(y, x):
    if y == 0:  # mpmath has no signed zeros: IEEE 754's atan2(+-0, x) is +-0 for x = +0 or x > 0, +-pi for x = -0 or x < 0
        return math.copysign(math.pi if math.copysign(1, x) < 0 else 0.0, y)
    return float(mp.atan2(mp.mpf(y), mp.mpf(x)))


def main():
    rng = random.Random(15)
    points = []
    zeros = [0.0, -0.0]
    for y in zeros + [1.0, -1.0, 5e-324, -5e-324, 1.7976931348623157e308]:
        for x in zeros + [1.0, -1.0, 5e-324, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308]:
            points.append((y, x))
    for _ in range(1500):  # whole range: log-uniform magnitudes, random signs, independent
        y = 10.0 ** rng.uniform(-320, 308) * rng.choice([1, -1])
        x = 10.0 ** rng.uniform(-320, 308) * rng.choice([1, -1])
        points.append((y, x))
    for _ in range(1500):  # ratios 1e-25 .. 1e25 at moderate scales
        x = 10.0 ** rng.uniform(-30, 30) * rng.choice([1, -1])
        y = x * 10.0 ** rng.uniform(-25, 25) * rng.choice([1, -1])
        if math.isfinite(y) and y != 0:
            points.append((y, x))
    for ratio in [0.66, 1.0, 1 / 0.66, math.tan(math.pi / 8), math.tan(3 * math.pi / 8)]:
        for _ in range(300):  # around the switching points
            x = 10.0 ** rng.uniform(-5, 5) * rng.choice([1, -1])
            y = x * ratio * (1 + rng.uniform(-1e-3, 1e-3)) * rng.choice([1, -1])
            points.append((y, x))
        for k in range(-8, 9):  # and a few ulps around them
            y = math.nextafter(ratio, math.inf) if k > 0 else math.nextafter(ratio, -math.inf) if k < 0 else ratio
            for _ in range(abs(k) - 1):
                y = math.nextafter(y, math.inf if k > 0 else -math.inf)
            points.append((y, 1.0))
            points.append((y, -1.0))
    for _ in range(500):  # equal magnitudes (rho = +-1 on the diagonal) and denormal pairs
        v = 10.0 ** rng.uniform(-320, 308)
        points.append((v, v))
        points.append((v, -v))
        d = rng.randint(1, 2 ** 52) * 5e-324
        points.append((d * rng.choice([1, -1]), rng.randint(1, 2 ** 52) * 5e-324 * rng.choice([1, -1])))
    for _ in range(1000):  # the ReLU arc-cosine map's arguments near correlation +-1
        q11 = 10.0 ** rng.uniform(-8, 8)
        q22 = 10.0 ** rng.uniform(-8, 8)
        rho = rng.choice([1, -1]) * (1 - 10.0 ** rng.uniform(-17, -1))
        q12 = rho * math.sqrt(q11 * q22)
        points.append((math.sqrt(max(q11 * q22 - q12 * q12, 0.0)), q12))
    cases = [[y, x, reference(y, x)] for y, x in points]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "atan2-references.json")
    with open(path, "w") as f:
        json.dump({"source": "make_atan2_references.py (mpmath, 50 digits, rounded to double)", "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases)} cases -> {path}")


if __name__ == "__main__":
    main()
