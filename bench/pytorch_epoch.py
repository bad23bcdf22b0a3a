#!/usr/bin/env python3
"""The PyTorch reference for gategrad-bench's training and inference
figures: the same epoch (784-256-128-10 relu, batch 128, Adam lr 1e-3,
shuffled Fashion-MNIST training set; or a wider model and batch) timed the
same way (training steps only, data already in memory as float32), and
eval-mode inference over the 10,000 test images.

gategrad-bench starts it itself with --serve, in PyTorch's best
configuration here, and interleaves its commands with its own timings:

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/pytorch_epoch.py --threads 2

(Debian's OpenMP OpenBLAS, libopenblas0-openmp; SkylakeX kernels, which
0.3.21 does not pick by itself on AVX-512 CPUs it does not know, only
where the CPU has AVX-512; denormals flushed.)

Standalone, it prints seconds per epoch (median) and, last, one JSON line.
With --serve it reads one command per line on standard input and answers
each with one line:
    train SPEC BATCH STEPS -> "ok SECONDS LOSS"   (STEPS 0: a whole epoch)
    predict BATCH          -> "ok SECONDS SAMPLES" (eval mode, no autograd)
    quit
SPEC is gategrad's "784-256-128-10:relu" (relu MLPs only). Needs
python3-torch (sh tools/setup.sh --bench); without the Fashion-MNIST IDX
files it uses random data of their shape.
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import time

import numpy as np
import torch


def idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(directory, split, n):
    """Images (float32 in [0, 1], n x 784) and labels of a split, or random
    data of that shape when the files are absent."""
    images = os.path.join(directory, f"{split}-images-idx3-ubyte.gz")
    if os.path.exists(images):
        x = idx(images).reshape(-1, 784).astype(np.float32) / 255
        y = idx(os.path.join(directory, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
        return torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(7)
    return torch.rand(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)


def mlp(spec):
    sizes = [int(s) for s in spec.split(":")[0].split("-")]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class Trainer:
    """One model and its optimizer, trained a batch at a time over a
    shuffled epoch that carries over from one command to the next."""

    def __init__(self, spec, batch, x, y):
        torch.manual_seed(1)
        self.model = mlp(spec)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.batch, self.x, self.y = batch, x, y
        self.perm, self.pos = torch.randperm(x.shape[0]), 0

    def step(self):
        if self.pos >= self.x.shape[0]:
            self.perm, self.pos = torch.randperm(self.x.shape[0]), 0
        idx_b = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.x[idx_b]), self.y[idx_b])
        loss.backward()
        self.opt.step()
        return loss.item() * len(idx_b), len(idx_b)

    def run(self, steps):
        """Seconds and mean loss of steps steps, or of a whole epoch (0)."""
        t0 = time.perf_counter()
        if steps == 0:
            self.pos = self.x.shape[0]  # a fresh permutation: one whole epoch
            steps = (self.x.shape[0] + self.batch - 1) // self.batch
        total, count = 0.0, 0
        for _ in range(steps):
            s, n = self.step()
            total, count = total + s, count + n
        return time.perf_counter() - t0, total / count


def predict(model, x, batch):
    model.eval()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, x.shape[0], batch):
            torch.softmax(model(x[i:i + batch]), dim=1)
    seconds = time.perf_counter() - t0
    model.train()
    return seconds


def serve(a):
    x, y = load(a.dir, "train", 60000)
    xt, _ = load(a.dir, "t10k", 10000)
    trainers = {}
    print(f"ready torch {torch.__version__} threads {torch.get_num_threads()}", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "train" and len(cmd) == 4:
            key = (cmd[1], int(cmd[2]))
            if key not in trainers:
                trainers[key] = Trainer(cmd[1], int(cmd[2]), x, y)
            seconds, loss = trainers[key].run(int(cmd[3]))
            print(f"ok {seconds:.6f} {loss:.6f}", flush=True)
        elif cmd[0] == "predict" and len(cmd) == 2:
            key = ("784-256-128-10:relu", 128)
            if key not in trainers:
                trainers[key] = Trainer(key[0], key[1], x, y)
            seconds = predict(trainers[key].model, xt, int(cmd[1]))
            print(f"ok {seconds:.6f} {xt.shape[0]}", flush=True)
        else:
            print(f"error unknown command: {line.strip()}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--dir", default=os.environ.get("GG_FASHION_MNIST_DIR",
                                                    "/usr/share/datasets/fashion-mnist"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    if a.serve:
        serve(a)
        return
    x, y = load(a.dir, "train", 60000)
    trainer = Trainer("784-256-128-10:relu", 128, x, y)
    times = []
    for e in range(a.epochs):
        seconds, loss = trainer.run(0)
        times.append(seconds)
        print(f"epoch {e + 1}: {seconds:.3f} s, train loss {loss:.4f}")
    print(json.dumps({"torch": torch.__version__, "threads": a.threads,
                      "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
                      "seconds_per_epoch": round(statistics.median(times), 4)}))


if __name__ == "__main__":
    main()
