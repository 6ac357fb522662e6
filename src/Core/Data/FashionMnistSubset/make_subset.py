#!/usr/bin/env python3
"""Cuts the embedded class-balanced Fashion-MNIST subset used when the full dataset is absent.

Takes, in file order, the first 200 images of each class from the training set (2,000 rows) and the first 100 of
each class from the test set (1,000 rows), and writes them as gzip IDX files (mtime 0, so the output is
reproducible). Source: the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).

    python3 make_subset.py [/usr/share/datasets/fashion-mnist] [output-dir]
"""
import gzip
import struct
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist")
out = Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).parent)


def read(path):
    data = gzip.open(path).read()
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return dims, data[4 + 4 * nd:]


def write(path, dims, payload):
    header = bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
            g.write(header + payload)


for split, per_class in (("train", 200), ("t10k", 100)):
    (n, rows, cols), pixels = read(src / f"{split}-images-idx3-ubyte.gz")
    (_,), labels = read(src / f"{split}-labels-idx1-ubyte.gz")
    taken, counts = [], [0] * 10
    for i, label in enumerate(labels):
        if counts[label] < per_class:
            counts[label] += 1
            taken.append(i)
    size = rows * cols
    write(out / f"{split}-images-idx3-ubyte.gz", (len(taken), rows, cols), b"".join(pixels[i * size:(i + 1) * size] for i in taken))
    write(out / f"{split}-labels-idx1-ubyte.gz", (len(taken),), bytes(labels[i] for i in taken))
    print(split, len(taken), counts)
