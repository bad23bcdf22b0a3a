#!/bin/sh
# gategrad's checkpoints in PyTorch and PyTorch's in gategrad ($1 is the
# gategrad binary, $2 tests/torch_nn.py): trained spiral models (plain, :bn,
# :prelu, :maxout) load into torch.nn.Linear, BatchNorm1d and PReLU modules with load_state_dict(strict=True) and predicts what
# gategrad predict does; a torch module's state_dict, written as safetensors,
# runs in gategrad predict --model with torch's predictions. Skipped (exit
# 77) when /usr/bin/python3 has no torch (Debian: python3-torch).
set -eu
G=$1
PY=$2
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 cannot import torch (apt-get install python3-torch)"
    exit 77
fi
tmp=${TMPDIR:-/tmp}/gg_torch_nn.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -c '
import random
random.seed(5)
with open("'"$tmp"'/rows.csv", "w") as f:
    f.write("x,y,label\n")
    for i in range(200):
        f.write("%.6f,%.6f,%d\n" % (random.uniform(-6, 6), random.uniform(-6, 6), i % 2))
'
for spec in 2-16-16-2:tanh 2-16-16-2:tanh:bn 2-16-16-2:prelu 2-8-8-2:relu:maxout=3 2-8-2:prelu:bn:maxout=2; do
    "$G" train --data spiral --model "$spec" --epochs 40 --seed 2 --save "$tmp/m.safetensors" >/dev/null
    "$G" predict --load "$tmp/m.safetensors" --input "$tmp/rows.csv" --output "$tmp/pred.csv"
    printf '%s: ' "$spec"
    /usr/bin/python3 "$PY" load "$tmp/m.safetensors" "$tmp/rows.csv" "$tmp/pred.csv"
done

for spec in 2-12-3:relu 2-12-6-3:relu:bn 2-12-3:prelu 2-6-3:maxout=2; do
/usr/bin/python3 "$PY" save $spec "$tmp/t.safetensors" "$tmp/rows.csv" "$tmp/want.csv"
"$G" predict --load "$tmp/t.safetensors" --model $spec --input "$tmp/rows.csv" --output "$tmp/got.csv"
printf '%s: ' "$spec"
/usr/bin/python3 - "$tmp/want.csv" "$tmp/got.csv" <<'PYEOF'
import sys
want = [l.split(",") for l in open(sys.argv[1]).read().split()]
got = [l.split(",") for l in open(sys.argv[2]).read().split()]
assert want[0] == got[0] and len(want) == len(got) == 201, (want[0], got[0], len(got))
worst = max(abs(float(a) - float(b)) for w, g in zip(want[1:], got[1:]) for a, b in zip(w[1:], g[1:]))
assert all(w[0] == g[0] for w, g in zip(want[1:], got[1:]))
assert worst < 1e-5, worst
print("torch's model in gategrad: 200 rows agree, largest difference %.2g" % worst)
PYEOF
done
# Without --model the file PyTorch wrote is refused with the reason.
if "$G" predict --load "$tmp/t.safetensors" --input "$tmp/rows.csv" 2>"$tmp/err"; then
    echo "FAIL: a file without a spec loaded without --model"; exit 1
fi
grep -q "give the model's spec" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "ok"
