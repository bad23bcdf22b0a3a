"""torch_nn.py - gategrad's checkpoints in PyTorch and back (run by
tests/test_torch_nn.sh with Debian's /usr/bin/python3 and torch).

  torch_nn.py load CKPT ROWS.csv PRED.csv
      (the spec may have :bn, :prelu, :maxout=K) reads CKPT with a hand-written safetensors reader (8-byte little-endian
      header length, JSON header, raw little-endian data), builds the
      torch.nn module its "gategrad.spec" describes, loads the tensors with
      load_state_dict(strict=True) and checks that its softmax on ROWS
      equals gategrad predict's PRED (class and probabilities).
  torch_nn.py save SPEC OUT.safetensors ROWS.csv WANT.csv
      writes a freshly initialized torch module for SPEC as safetensors
      (names and layout of its state_dict, no gategrad metadata) and its
      predictions on ROWS, for gategrad predict --load OUT --model SPEC.
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8)}
ACTS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "linear": torch.nn.Identity}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    for name, e in header.items():
        dtype, size = DTYPES[e["dtype"]]
        begin, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype)
        tensors[name] = t.reshape(e["shape"]).clone()
    return tensors, meta


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        integer = t.dtype == torch.int64  # BatchNorm1d's num_batches_tracked
        raw = t.detach().contiguous().to(torch.int64 if integer else torch.float32).numpy().tobytes()
        header[name] = {"dtype": "I64" if integer else "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


class MLP(torch.nn.Module):
    """The module a gategrad spec such as 2-16-16-2:tanh:bn describes:
    fcI (Linear), bnI (BatchNorm1d, :bn), preluI (PReLU, :prelu), and for
    :maxout=K hidden Linear layers of K * width outputs, unit j the max of
    outputs j * K .. j * K + K - 1."""

    def __init__(self, spec):
        super().__init__()
        parts = spec.split(":")
        sizes = [int(s) for s in parts[0].split("-")]
        opts = dict(p.split("=", 1) if "=" in p else (p, "") for p in parts[1:])
        self.k = int(opts.get("maxout", 1))
        self.prelu = "prelu" in opts
        self.bn = "bn" in opts
        self.hidden = ACTS[next((p for p in parts[1:] if p in ACTS), "relu")]()
        self.n = len(sizes) - 1
        for i in range(self.n):
            last = i + 1 == self.n
            k = 1 if last else self.k
            setattr(self, "fc%d" % (i + 1), torch.nn.Linear(sizes[i], k * sizes[i + 1], bias="nobias" not in opts))
            if not last and self.bn:
                setattr(self, "bn%d" % (i + 1), torch.nn.BatchNorm1d(k * sizes[i + 1]))
            if not last and self.prelu and k == 1:
                setattr(self, "prelu%d" % (i + 1), torch.nn.PReLU(sizes[i + 1]))

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, "fc%d" % (i + 1))(x)
            if i + 1 == self.n:
                break
            if self.bn:
                x = getattr(self, "bn%d" % (i + 1))(x)
            if self.k > 1:
                x = x.view(x.shape[0], -1, self.k).max(-1).values
            elif self.prelu:
                x = getattr(self, "prelu%d" % (i + 1))(x)
            else:
                x = self.hidden(x)
        return x


def read_rows(path, dim):
    rows = []
    for line in open(path):
        f = line.strip().split(",")
        try:
            rows.append([float(v) for v in f[:dim]])
        except ValueError:
            pass  # the header
    return torch.tensor(rows, dtype=torch.float32)


def check(probs, pred_path):
    lines = open(pred_path).read().split("\n")
    assert lines[0] == "class," + ",".join("p%d" % j for j in range(probs.shape[1])), lines[0]
    got = [[float(v) for v in l.split(",")] for l in lines[1:] if l]
    assert len(got) == probs.shape[0], (len(got), probs.shape[0])
    worst = 0.0
    for i, row in enumerate(got):
        assert int(row[0]) == int(probs[i].argmax()), (i, row, probs[i])
        worst = max(worst, max(abs(a - b) for a, b in zip(row[1:], probs[i].tolist())))
    assert worst < 1e-5, worst
    print("%d rows agree, largest probability difference %.2g" % (len(got), worst))


def main():
    if sys.argv[1] == "load":
        tensors, meta = read_safetensors(sys.argv[2])
        assert meta.get("gategrad.layout") == "2", meta
        model = MLP(meta["gategrad.spec"])
        # BatchNorm1d's state_dict also has num_batches_tracked, which
        # gategrad does not keep (momentum 0.1 never needs it).
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.BatchNorm1d):
                tensors[name + ".num_batches_tracked"] = torch.tensor(0)
        model.load_state_dict(tensors, strict=True)
        model.eval()
        x = read_rows(sys.argv[3], model.fc1.in_features)
        with torch.no_grad():
            check(torch.softmax(model(x), dim=1), sys.argv[4])
    else:
        spec, out, rows, want = sys.argv[2:6]
        torch.manual_seed(7)
        model = MLP(spec)
        x = read_rows(rows, model.fc1.in_features)
        with torch.no_grad():  # running statistics other than 0 and 1
            model.train()
            for _ in range(3):
                model(x * 1.5 + 0.3)
        model.eval()
        write_safetensors(out, model.state_dict())
        with torch.no_grad():
            p = torch.softmax(model(x), dim=1)
        with open(want, "w") as f:
            f.write("class," + ",".join("p%d" % j for j in range(p.shape[1])) + "\n")
            for r in p.tolist():
                f.write("%d," % max(range(len(r)), key=r.__getitem__) + ",".join("%.9g" % v for v in r) + "\n")


main()
