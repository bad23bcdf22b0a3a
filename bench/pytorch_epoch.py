#!/usr/bin/env python3
"""The PyTorch reference for `gategrad bench`'s training figure: the same
epoch (784-256-128-10, relu, batch 128, Adam lr 1e-3, shuffled
Fashion-MNIST training set) timed the same way (training steps only, data
already in memory as float32).

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/pytorch_epoch.py --threads 2

(PyTorch at its best here: Debian's OpenMP OpenBLAS, libopenblas0-openmp,
with its SkylakeX kernels, which 0.3.21 does not pick by itself on this
CPU, and denormals flushed.)

Prints seconds per epoch (median) and, last, one JSON line. Needs
python3-torch (sh tools/setup.sh --bench) and the Fashion-MNIST IDX files.
"""
import argparse
import gzip
import json
import os
import statistics
import time

import numpy as np
import torch


def idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--dir", default=os.environ.get("GG_FASHION_MNIST_DIR",
                                                    "/usr/share/datasets/fashion-mnist"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(1)
    x = torch.from_numpy(idx(os.path.join(a.dir, "train-images-idx3-ubyte.gz"))
                         .reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(idx(os.path.join(a.dir, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(x.shape[0])
        total = 0.0
        for i in range(0, x.shape[0], 128):
            idx_b = perm[i:i + 128]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx_b]), y[idx_b])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx_b)
        times.append(time.perf_counter() - t0)
        print(f"epoch {len(times)}: {times[-1]:.3f} s, train loss {total / x.shape[0]:.4f}")
    med = statistics.median(times)
    print(json.dumps({"torch": torch.__version__, "threads": a.threads,
                      "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
                      "seconds_per_epoch": round(med, 4)}))


if __name__ == "__main__":
    main()
