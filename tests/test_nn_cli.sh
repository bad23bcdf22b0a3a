#!/bin/sh
# gategrad train and predict together ($1 is the binary): predict finds the
# split train used in the checkpoint (same test accuracy) and says when
# --seed or --data differ; predict --input classifies CSV rows (with or
# without their label column) and IDX images (raw and gzip) into a
# class,p0,p1,... CSV; feature counts and output names that do not fit are
# refused with exit 2.
set -u
G=$1
tmp=${TMPDIR:-/tmp}/gg_nn_cli.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
field() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" "$2"; }

# ---- the split restored ----------------------------------------------------------------
"$G" train --data spiral --model 2-12-2:tanh --epochs 15 --seed 7 --json --save "$tmp/s.safetensors" \
    >"$tmp/train.out" || fail "train exit $?"
tail -n 1 "$tmp/train.out" >"$tmp/train.json"
"$G" predict --load "$tmp/s.safetensors" --json >"$tmp/p.json" || fail "predict exit $?"
a=$(field test_accuracy "$tmp/train.json"); b=$(field test_accuracy "$tmp/p.json")
[ -n "$a" ] && [ "$a" = "$b" ] || fail "predict's test accuracy '$b' is not train's '$a'"
[ "$(field training_split "$tmp/p.json")" = true ] || fail "training_split not true: $(cat "$tmp/p.json")"
"$G" predict --load "$tmp/s.safetensors" --seed 8 >"$tmp/p8.out" || fail "predict --seed 8 exit $?"
grep -qF "note: --seed 8 is not train's --seed 7" "$tmp/p8.out" || fail "no note for --seed 8: $(cat "$tmp/p8.out")"
"$G" predict --load "$tmp/s.safetensors" --seed 8 --json >"$tmp/p8.json"
[ "$(field training_split "$tmp/p8.json")" = false ] || fail "training_split not false for --seed 8"
"$G" predict --load "$tmp/s.safetensors" --data circle >"$tmp/pc.out" || fail "predict --data circle exit $?"
grep -qF "note: --data circle is not the data set the model was trained on (spiral)" "$tmp/pc.out" ||
    fail "no note for --data circle: $(cat "$tmp/pc.out")"

# ---- --input CSV -------------------------------------------------------------------------
printf 'x,y,label\n1.5,-2,0\n-3,0.25,1\n0,0,1\n' >"$tmp/l.csv"
printf '1.5,-2\n-3,0.25\n0,0\n' >"$tmp/f.csv"
"$G" predict --load "$tmp/s.safetensors" --input "$tmp/l.csv" --output "$tmp/l.out.csv" || fail "--input l.csv"
"$G" predict --load "$tmp/s.safetensors" --input "$tmp/f.csv" >"$tmp/f.out.csv" || fail "--input f.csv"
cmp -s "$tmp/l.out.csv" "$tmp/f.out.csv" || fail "labelled and unlabelled rows predict differently"
[ "$(head -n 1 "$tmp/l.out.csv")" = "class,p0,p1" ] || fail "header: $(head -n 1 "$tmp/l.out.csv")"
[ "$(wc -l <"$tmp/l.out.csv")" -eq 4 ] || fail "not 3 rows: $(cat "$tmp/l.out.csv")"
# Each row: the argmax class, probabilities summing to 1, printed to 9 digits.
awk -F, 'NR > 1 { s = $2 + $3; c = ($3 > $2); if (s < 0.999999 || s > 1.000001 || c != $1) bad = 1;
         d = $2; gsub(/^0\.|e.*$/, "", d); if (length(d) < 7) bad = 1 }
     END { exit bad }' "$tmp/l.out.csv" || fail "rows not class + probabilities: $(cat "$tmp/l.out.csv")"

# ---- --input IDX: 2x2 images against the same pixels / 255 as CSV -------------------------
/usr/bin/python3 - "$tmp" <<'PYEOF' || fail "writing the IDX files"
import gzip, struct, sys
t = sys.argv[1]
px = [[0, 51, 255, 102], [204, 0, 153, 255], [17, 34, 68, 136]]
raw = struct.pack(">BBBBIII", 0, 0, 8, 3, 3, 2, 2) + bytes(sum(px, []))
open(t + "/img.idx", "wb").write(raw)
open(t + "/img.idx.gz", "wb").write(gzip.compress(raw))
with open(t + "/img.csv", "w") as f:
    for i, r in enumerate(px):
        f.write(",".join(repr(v / 255) for v in r) + ",%d\n" % (i % 2))
PYEOF
"$G" train --data "$tmp/img.csv" --model 4-5-2:tanh --epochs 5 --val 0 --save "$tmp/i.safetensors" >/dev/null 2>&1 ||
    fail "train on img.csv"
"$G" predict --load "$tmp/i.safetensors" --input "$tmp/img.csv" >"$tmp/i1.csv" || fail "--input img.csv"
"$G" predict --load "$tmp/i.safetensors" --input "$tmp/img.idx" >"$tmp/i2.csv" || fail "--input img.idx"
"$G" predict --load "$tmp/i.safetensors" --input "$tmp/img.idx.gz" >"$tmp/i3.csv" || fail "--input img.idx.gz"
[ "$(wc -l <"$tmp/i2.csv")" -eq 4 ] || fail "IDX: not 3 rows"
awk -F, 'NR == FNR { for (i = 1; i <= NF; i++) a[FNR, i] = $i; next }
         { for (i = 2; i <= NF; i++) if (FNR > 1 && (a[FNR, i] - $i > 1e-6 || $i - a[FNR, i] > 1e-6)) bad = 1 }
         END { exit bad }' "$tmp/i1.csv" "$tmp/i2.csv" || fail "IDX and CSV pixels predict differently"
cmp -s "$tmp/i2.csv" "$tmp/i3.csv" || fail "raw and gzip IDX predict differently"

# ---- refusals ----------------------------------------------------------------------------
refuse() { # expected text on stderr, then the arguments
    want=$1; shift
    "$G" "$@" >/dev/null 2>"$tmp/err"; rc=$?
    [ $rc -eq 2 ] || fail "exit $rc (not 2) for: $*"
    grep -qF -- "$want" "$tmp/err" || fail "'$want' not in '$(cat "$tmp/err")' for: $*"
}
printf '1,2,3,4\n5,6,7,8\n' >"$tmp/w.csv"
refuse "4 columns, but 2 features are wanted (2 columns, or 3 with a label last)" \
    predict --load "$tmp/s.safetensors" --input "$tmp/w.csv"
refuse "4 pixels per image, but 2 features are wanted" predict --load "$tmp/s.safetensors" --input "$tmp/img.idx"
refuse "name the file .csv" predict --load "$tmp/s.safetensors" --input "$tmp/f.csv" --output "$tmp/o.txt"
refuse "--output needs --input" predict --load "$tmp/s.safetensors" --output "$tmp/o.csv"

# ---- --grad-norms: a deep sigmoid stack's first layer gets a tiny share --------------------
"$G" train --data spiral --model 2-16-16-16-16-16-16-2:sigmoid --epochs 2 --grad-norms --json >"$tmp/gn.out" ||
    fail "train --grad-norms exit $?"
grep -q "^  weight gradient norms:  fc1 .*  fc7 " "$tmp/gn.out" || fail "no per-layer norms: $(head -n 20 "$tmp/gn.out")"
tail -n 1 "$tmp/gn.out" | /usr/bin/python3 -c '
import json, sys
n = json.load(sys.stdin)["grad_norms"]
assert len(n) == 2 and all(len(e) == 7 for e in n), n
assert n[0][0] < n[0][6] / 100, n[0]  # vanishing: fc1 far below fc7
' || fail "grad_norms in --json: $(tail -n 1 "$tmp/gn.out")"
"$G" train --data spiral --model 2-16-16-16-16-16-16-2:relu --epochs 2 --grad-norms --json >"$tmp/gr.out"
tail -n 1 "$tmp/gr.out" | /usr/bin/python3 -c '
import json, sys
n = json.load(sys.stdin)["grad_norms"]
assert n[0][0] > n[0][6] / 20, n[0]  # ReLU keeps it
' || fail "ReLU grad_norms: $(tail -n 1 "$tmp/gr.out")"

# ---- the command's edges ------------------------------------------------------------------
printf '1,2,3,4,0\n2,3,4,5,1\n3,4,5,6,0\n4,5,6,7,1\n5,6,7,8,0\n' >"$tmp/four.csv"
refuse "--boundary $tmp/b.svg: draws 2-D data only, and --data $tmp/four.csv has 4 features" \
    train --data "$tmp/four.csv" --boundary "$tmp/b.svg"
[ -e "$tmp/b.svg" ] && fail "--boundary on 4-D data wrote a picture"
"$G" train --data "$tmp/four.csv" --boundary "$tmp/b.svg" 2>/dev/null | grep -q "^epoch" &&
    fail "--boundary on 4-D data trained before refusing"
printf '1,2,0\n2,3,1\n' >"$tmp/two.csv"
refuse "the test split is empty" train --data "$tmp/two.csv"
refuse "--val 0.1 leaves no validation data" train --data "$tmp/four.csv"
"$G" train --data "$tmp/four.csv" --val 0 --epochs 2 >"$tmp/v0.out" || fail "--val 0 exit $?"
grep -q "val loss" "$tmp/v0.out" && fail "--val 0 still prints a validation loss"
grep -qi "nan" "$tmp/v0.out" && fail "--val 0 prints NaN: $(cat "$tmp/v0.out")"
refuse "--plot $tmp/x.png: this writes an SVG picture; name the file .svg" train --data xor --plot "$tmp/x.png"
refuse "name the file .svg" train --data xor --boundary "$tmp/x.pdf"
refuse "--save $tmp/m.svg: this writes a safetensors checkpoint" train --data xor --save "$tmp/m.svg"
# --help: every option of the table, each with its default (or "required").
for cmd in train predict; do
    "$G" $cmd --help >"$tmp/help" || fail "$cmd --help exit $?"
    case $cmd in
        train) names="data model epochs batch opt lr schedule momentum weight-decay val patience seed threads
                      load save plot boundary json grad-norms" ;;
        predict) names="load model data seed input output batch json" ;;
    esac
    for name in $names; do
        awk -v opt="--$name" '$1 == opt { on = 1; text = $0; next }
             on && /^  --|^Examples/ { on = 0 } on { text = text $0 }
             END { exit !(text ~ /default|required/) }' "$tmp/help" ||
            fail "$cmd --help: --$name missing or without its default"
    done
done

echo "$failures failures"
[ "$failures" -eq 0 ]
