#!/bin/sh
# gategrad train under mpiexec ($1 the binary, $2 mpiexec; the environment
# lets it run as root over shared memory): the global batch, rank 0 alone
# printing and writing (the ranks run in different directories, so a
# checkpoint or page written by another rank would show), the test accuracy of one
# process, predict's evaluation split among the ranks, a mistake every rank
# makes printed once, and a rank that fails ending the whole job promptly.
set -u
G=$1
case $G in /*) ;; *) G=$(pwd)/$G ;; esac # the ranks run elsewhere
MPIEXEC=$2
tmp=${TMPDIR:-/tmp}/gg_dist_cli.$$
mkdir -p "$tmp/r0" "$tmp/r1" "$tmp/r2" "$tmp/r3"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
field() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" "$2"; }
mpi() { timeout 120 "$MPIEXEC" --oversubscribe --bind-to none "$@"; }
args="train --data spiral --epochs 4 --batch 32 --seed 5 --json --save m.safetensors --html r.html"

(cd "$tmp/r0" && "$G" $args) >"$tmp/one.out" 2>"$tmp/one.err" || fail "one process: exit $?: $(cat "$tmp/one.err")"
rm -f "$tmp/r0/m.safetensors" "$tmp/r0/r.html"
want=$(field test_accuracy "$tmp/one.out")

for np in 2 4; do
    set --
    for r in $(seq 0 $((np - 1))); do
        [ "$r" -gt 0 ] && set -- "$@" :
        set -- "$@" -np 1 --wdir "$tmp/r$r" "$G" $args
    done
    mpi "$@" >"$tmp/np$np.out" 2>"$tmp/np$np.err" || fail "-np $np: exit $?: $(cat "$tmp/np$np.err")"
    n_json=$(grep -c '^{"test_accuracy"' "$tmp/np$np.out")
    [ "$n_json" = 1 ] || fail "-np $np: $n_json JSON lines, not 1: $(cat "$tmp/np$np.out")"
    got=$(grep '^{"test_accuracy"' "$tmp/np$np.out" >"$tmp/np$np.json"; field test_accuracy "$tmp/np$np.json")
    [ -n "$want" ] && [ "$got" = "$want" ] || fail "-np $np: test accuracy $got, one process $want"
    [ "$(field ranks "$tmp/np$np.json")" = "$np" ] || fail "-np $np: \"ranks\" is not $np: $(cat "$tmp/np$np.json")"
    [ "$(field batch "$tmp/np$np.json")" = 32 ] || fail "-np $np: \"batch\" is not the global 32"
    n_epochs=$(grep -c '^epoch ' "$tmp/np$np.out")
    [ "$n_epochs" = 4 ] || fail "-np $np: $n_epochs epoch lines, not 4 (rank 0 alone prints)"
    [ -s "$tmp/r0/m.safetensors" ] || fail "-np $np: rank 0 wrote no checkpoint"
    [ -s "$tmp/r0/r.html" ] || fail "-np $np: rank 0 wrote no --html page"
    for r in $(seq 1 $((np - 1))); do
        [ ! -e "$tmp/r$r/m.safetensors" ] || fail "-np $np: rank $r wrote a checkpoint"
        ls "$tmp/r$r" | grep -q . && fail "-np $np: rank $r left files: $(ls "$tmp/r$r")"
    done
    rm -f "$tmp/r0/m.safetensors" "$tmp/r0/r.html"
    echo "-np $np: test accuracy $got (one process: $want), $n_json JSON line(s)"
done

# predict: the ranks split the test split; one line, the one process's.
"$G" train --data spiral --epochs 4 --seed 5 --save "$tmp/p.safetensors" >/dev/null 2>&1 ||
    fail "training the model for predict"
"$G" predict --load "$tmp/p.safetensors" --json >"$tmp/p1.out" 2>&1 || fail "predict: exit $?"
mpi -np 3 "$G" predict --load "$tmp/p.safetensors" --json >"$tmp/p3.out" 2>"$tmp/p3.err" ||
    fail "predict under -np 3: exit $?: $(cat "$tmp/p3.err")"
cmp -s "$tmp/p1.out" "$tmp/p3.out" || fail "predict under -np 3 printed '$(cat "$tmp/p3.out")', one process '$(cat "$tmp/p1.out")'"
mpi -np 2 "$G" predict --load "$tmp/p.safetensors" --input "$tmp/p1.out" >"$tmp/pi.out" 2>"$tmp/pi.err"
rc=$?
[ "$rc" = 2 ] || fail "predict --input under -np 2: exit $rc, not 2"
[ "$(grep -c "^gategrad: predict --input classifies in one process" "$tmp/pi.err")" = 1 ] ||
    fail "predict --input under -np 2: not refused once: $(cat "$tmp/pi.err")"

# A global batch the ranks do not divide.
mpi -np 4 "$G" train --data spiral --batch 30 --epochs 1 >"$tmp/b.out" 2>"$tmp/b.err"
rc=$?
[ "$rc" -ne 0 ] || fail "--batch 30 under -np 4: exit 0"
n_msg=$(grep -cF -- "--batch 30: the global batch must be a multiple of the 4 ranks" "$tmp/b.err")
[ "$n_msg" = 1 ] || fail "--batch 30 under -np 4: the message $n_msg times, not once: $(cat "$tmp/b.err")"

# A mistake every rank makes (a missing data file, an unknown option):
# printed once (by rank 0), and the job ends with the command's exit code 2.
for bad in "--data $tmp/none.csv" "--data spiral --bogus"; do
    # shellcheck disable=SC2086
    mpi -np 3 "$G" train $bad --epochs 1 >"$tmp/e.out" 2>"$tmp/e.err"
    rc=$?
    [ "$rc" = 2 ] || fail "'$bad' under -np 3: exit $rc, not 2"
    n_msg=$(grep -c "^gategrad: " "$tmp/e.err")
    [ "$n_msg" = 1 ] || fail "'$bad' under -np 3: $n_msg messages, not 1: $(cat "$tmp/e.err")"
done

# --help: the usage once, exit 0.
mpi -np 3 "$G" train --help >"$tmp/h.out" 2>"$tmp/h.err" || fail "--help under -np 3: exit $?"
n_usage=$(grep -c "^usage: gategrad train" "$tmp/h.out")
[ "$n_usage" = 1 ] || fail "--help under -np 3: the usage $n_usage times, not once"

# Rank 1 fails (its data is missing) while rank 0 has a long run ahead:
# the ranks agree before training that one failed, and the job ends,
# non-zero, in seconds, with rank 1's message alone.
start=$(date +%s)
mpi -np 1 "$G" train --data spiral --epochs 100000 : -np 1 "$G" train --data "$tmp/missing.csv" --epochs 100000 \
    >"$tmp/f.out" 2>"$tmp/f.err"
rc=$?
took=$(($(date +%s) - start))
[ "$rc" -ne 0 ] || fail "a failing rank: mpiexec exit 0"
[ "$rc" -ne 124 ] || fail "a failing rank: mpiexec still running after 120 s"
[ "$took" -le 30 ] || fail "a failing rank: the job took $took s to end"
n_msg=$(grep -c "^gategrad: .*missing.csv" "$tmp/f.err")
[ "$n_msg" = 1 ] || fail "a failing rank: its message printed $n_msg times, not once: $(cat "$tmp/f.err")"
echo "a failing rank: mpiexec exit $rc after $took s"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "dist_cli: all checks passed"
