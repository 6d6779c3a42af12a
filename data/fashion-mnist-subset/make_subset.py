#!/usr/bin/env python3
"""Extracts the committed Fashion-MNIST subset from the full data set (plain Python 3, no packages).

Usage: python3 make_subset.py [SOURCE_FOLDER]   (default /usr/share/datasets/fashion-mnist, Debian's
dataset-fashion-mnist package). Writes, next to this script:
  train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz: the first 200 images of each class in the
      order of the full training file (2,000 images, kept in file order);
  t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz: the first 100 of each class of the test file
      (1,000 images);
  subset.json: the source indices and, per file, the counts, per-class counts and pixel sums that the
      C# tests compare the IDX reader against.
The gzip files are written with mtime 0, so the output is byte-for-byte reproducible.
"""
import gzip
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
PER_CLASS = {"train": 200, "t10k": 100}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, path
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    payload = data[4 + 4 * ndim:]
    return shape, payload


def write_idx(path, shape, payload):
    header = struct.pack(">HBB", 0, 0x08, len(shape)) + struct.pack(">" + "I" * len(shape), *shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(header + payload)


summary = {"source": "Fashion-MNIST (Zalando SE, MIT licence), Debian package dataset-fashion-mnist",
           "rule": "first N images of each class, in file order", "sets": {}}
for name, per_class in PER_CLASS.items():
    (n, rows, cols), images = read_idx(os.path.join(SOURCE, f"{name}-images-idx3-ubyte.gz"))
    (n_labels,), labels = read_idx(os.path.join(SOURCE, f"{name}-labels-idx1-ubyte.gz"))
    assert n == n_labels
    taken = {c: 0 for c in range(10)}
    indices = []
    for i in range(n):
        c = labels[i]
        if taken[c] < per_class:
            taken[c] += 1
            indices.append(i)
    size = rows * cols
    sub_images = b"".join(images[i * size:(i + 1) * size] for i in indices)
    sub_labels = bytes(labels[i] for i in indices)
    write_idx(os.path.join(HERE, f"{name}-images-idx3-ubyte.gz"), (len(indices), rows, cols), sub_images)
    write_idx(os.path.join(HERE, f"{name}-labels-idx1-ubyte.gz"), (len(indices),), sub_labels)
    summary["sets"][name] = {
        "count": len(indices), "rows": rows, "cols": cols,
        "class_counts": [taken[c] for c in range(10)],
        "pixel_sum": sum(sub_images),
        "first_image_pixel_sum": sum(sub_images[:size]),
        "last_image_pixel_sum": sum(sub_images[-size:]),
        "first_labels": list(sub_labels[:20]),
        "source_indices": indices,
    }

with open(os.path.join(HERE, "subset.json"), "w") as f:
    json.dump(summary, f, indent=1)
    f.write("\n")
