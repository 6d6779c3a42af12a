#!/usr/bin/env python3
"""Prints the README's Fashion-MNIST table rows from the n*.json results (classify command) and n*.time.txt
(the process's wall time from /usr/bin/time -v) in this folder."""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
for n in [1000, 2000, 5000, 10000, 60000]:
    d = json.load(open(os.path.join(HERE, f"n{n}.json")))
    by_method = {r["method"]: r for r in d["rows"]}
    wall = re.search(r"\): (\S+)", open(os.path.join(HERE, f"n{n}.time.txt")).read()).group(1)
    seconds = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
    cells = [f"{n:,}"]
    for m in ["nngp", "ntk", "rbf", "linear", "network"]:
        r = by_method.get(m)
        if r is None:   # the 60,000-image run computed the NTK only
            cells.append("")
            continue
        cells.append(f"{r['accuracy']:.4f}" + (f" ({r['diag_reg']:g})" if r.get("diag_reg") is not None else ""))
    cells.append(f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s")
    # Peak: the largest per-method resident-set high-water mark (each method resets it before it starts).
    cells.append(f"{max(r['peak_bytes'] for r in d['rows']) / 1e9:.1f} GB")
    print("| " + " | ".join(cells) + " |")
