#!/usr/bin/env python3
"""Recomputes analytic-kernels.json's nngp and ntk from its layers and inputs, with the Python standard
library only (the closed forms and layer recursion described in README.md here), and prints the largest
relative difference per case. Usage: python3 tests/reference/check_analytic_kernels.py"""
import json, math, os, sys

def relu(q11, q12, q22):
    s = math.sqrt(q11 * q22)
    c = max(-1.0, min(1.0, q12 / s))
    th = math.acos(c)
    return s / (2 * math.pi) * (math.sin(th) + (math.pi - th) * c), (math.pi - th) / (2 * math.pi)

def erf(q11, q12, q22):
    d = (1 + 2 * q11) * (1 + 2 * q22)
    return (2 / math.pi) * math.asin(2 * q12 / math.sqrt(d)), (4 / math.pi) / math.sqrt(d - 4 * q12 * q12)

def kernels(layers, x, y, d):
    """NTK parameterization: returns (nngp, ntk) of one pair of inputs."""
    first = layers[0]
    dot = lambda a, b: sum(p * q for p, q in zip(a, b)) / d
    s11 = first["w_std"] ** 2 * dot(x, x) + first["b_std"] ** 2
    s12 = first["w_std"] ** 2 * dot(x, y) + first["b_std"] ** 2
    s22 = first["w_std"] ** 2 * dot(y, y) + first["b_std"] ** 2
    t12 = s12
    k = None
    for layer in layers[1:]:
        if layer["kind"] == "dense":
            w2, b2 = layer["w_std"] ** 2, layer["b_std"] ** 2
            (k11, _), (k12, kd12), (k22, _) = k
            s11, s12, s22 = w2 * k11 + b2, w2 * k12 + b2, w2 * k22 + b2
            t12 = w2 * kd12 * t12 + s12
        else:
            f = {"relu": relu, "erf": erf}[layer["kind"]]
            k = (f(s11, s11, s11), f(s11, s12, s22), f(s22, s22, s22))
    return s12, t12

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    worst = 0.0
    for case in json.load(open(os.path.join(here, "analytic-kernels.json"))):
        assert case["parameterization"] == "ntk"
        d = len(case["x1"][0])
        for name, idx in (("nngp", 0), ("ntk", 1)):
            num = den = 0.0
            for i, x in enumerate(case["x1"]):
                for j, y in enumerate(case["x2"]):
                    v = kernels(case["layers"], x, y, d)[idx]
                    num += (v - case[name][i][j]) ** 2
                    den += case[name][i][j] ** 2
            err = math.sqrt(num / den)
            worst = max(worst, err)
            print(f"{case['name']} {name}: relative Frobenius difference {err:.2e}")
    sys.exit(0 if worst < 1e-12 else 1)

main()
