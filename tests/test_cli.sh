#!/bin/sh
# The gategrad command, run as a user runs it ($1 is the built binary):
# JSON output, traces and explanations of the lecture's examples, DOT that
# Graphviz accepts, exit code 2 with a message for each kind of bad input,
# and huge inputs that must neither crash nor hang.
set -u
G=$1
tmp=${TMPDIR:-/tmp}/gg_cli_test.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# run NAME ARGS...: output in $tmp/out, errors in $tmp/err, exit code in $rc.
run() {
    "$G" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    checks=$((checks + 1))
}

has() { # file, fixed text
    grep -qF -- "$2" "$1" || fail "'$2' not in $1 for: $last"
}

ok() { # expected text on stdout, then the command's arguments
    want=$1
    shift
    last="$*"
    run "$@"
    [ "$rc" -eq 0 ] || fail "exit $rc for: $* ($(cat "$tmp/err"))"
    has "$tmp/out" "$want"
}

bad() { # expected text on stderr, then the command's arguments
    want=$1
    shift
    last="$*"
    run "$@"
    [ "$rc" -eq 2 ] || fail "exit $rc, not 2, for: $*"
    has "$tmp/err" "$want"
    [ -s "$tmp/out" ] && fail "stdout not empty for: $*"
    head -n 1 "$tmp/err" | grep -q '^gategrad: ' || fail "first line is not 'gategrad: ...' for: $*"
}

# ---- grad --json: the last line is exactly one object, 17 digits -----------------------
last="grad --json circuit"
run grad --json "(x + y) * z" x=-2 y=5 z=-4
[ "$(tail -n 1 "$tmp/out")" = '{"value": -12, "grad": {"x": -4, "y": -4, "z": 3}}' ] ||
    fail "circuit JSON: $(cat "$tmp/out")"
run grad --json "sigmoid(w0*x0 + w1*x1 + w2)" w0=2 x0=-1 w1=-3 x1=-2 w2=-3
[ "$(tail -n 1 "$tmp/out")" = '{"value": 0.7310585786300049, "grad": {"w0": -0.19661193324148185, "x0": 0.3932238664829637, "w1": -0.3932238664829637, "x1": -0.58983579972444555, "w2": 0.19661193324148185}}' ] ||
    fail "neuron JSON: $(cat "$tmp/out")"
run grad --json "0.1 + 0.2" 
[ "$(tail -n 1 "$tmp/out")" = '{"value": 0.30000000000000004, "grad": {}}' ] || fail "0.1 + 0.2: $(cat "$tmp/out")"
run grad --json "log(x)" x=0
[ "$(tail -n 1 "$tmp/out")" = '{"value": null, "grad": {"x": null}}' ] || fail "log(0): $(cat "$tmp/out")"
run grad --json "x" x=1 unused=2
[ "$(tail -n 1 "$tmp/out")" = '{"value": 1, "grad": {"x": 1, "unused": 0}}' ] || fail "unused: $(cat "$tmp/out")"
ok "df/dx = -8" grad "2 * (x*y + max(z, w))" x=3 y=-4 z=2 w=-1
ok "df/dw = 0" grad "2 * (x*y + max(z, w))" x=3 y=-4 z=2 w=-1
ok '"grad": {"x": 7}' grad "x*x + x" x=3 --json
ok "df/dy = 1.386294361" grad "x^y" x=2 y=1

# A program of assignments: the lecture's two-layer network (section 6),
# whose names make explain print the slide's grouped chain for w5.
net="z1 = w1*x1 + w2*x2; z2 = w3*x1 + w4*x2; h1 = sigmoid(z1); h2 = sigmoid(z2)
z3 = w5*h1 + w6*h2; z4 = w7*h1 + w8*h2; o1 = sigmoid(z3); o2 = sigmoid(z4)
E = 0.5*(0.4 - o1)^2 + 0.5*(0.6 - o2)^2"
netv="x1=0.1 x2=0.2 w1=0.3 w2=0.25 w3=0.4 w4=0.35 w5=0.45 w6=0.4 w7=0.7 w8=0.6"
# shellcheck disable=SC2086
ok "grouped at labelled nodes: ∂E/∂o1 · ∂o1/∂z3 · ∂z3/∂w5" explain "$net" $netv --wrt w5
# shellcheck disable=SC2086
ok "= 0.20944600 · 0.23802157 · 0.51998934" explain "$net" $netv --wrt w5
# shellcheck disable=SC2086
ok "E = 0.02397190075" grad "$net" $netv
bad "line 2, column 9: variable 'q' has no value" grad "a = x * 2
b = a + q" x=1
bad "(did you mean 'tanh'?)" grad "tahn(x)" x=1
# x*x's two paths differ only in the operand they run through.
ok "path 2 of 3: ∂f/∂n1 · ∂n1/∂x (operand 2)" explain "x*x + x" x=3 --wrt x
# A variable called n2 is never confused with the generated name of node 2.
ok "forward  #2 = mul(n2 = 3, x = 4) = 12" trace "n2 * x + n2" n2=3 x=4
# Formulas name the operands by their nodes, not by letters of their own.
ok "dz = h * (1 - h) * upstream = 0.62245933 * (1 - 0.62245933) * 1 = 0.23500371" trace "h = sigmoid(z)" z=0.5
ok "result = 2" grad -- "--f" f=2
ok "df/dx = 5" grad "x*y + x" x=3 y=4

# ---- trace and explain: the lecture's numbers -------------------------------------------
ok "forward  n3 = add(x = -2, y = 5) = 3" trace "(x + y) * z" x=-2 y=5 z=-4
has "$tmp/out" "dn3 = z * upstream = -4 * 1 = -4, dz = n3 * upstream = 3 * 1 = 3"
has "$tmp/out" "dx = upstream = -4, dy = upstream = -4"
has "$tmp/out" "result   f = -12, df/dx = -4, df/dy = -4, df/dz = 3"
ok "dz = upstream (2 >= -1) = 2, dw = 0 (routed to the other input)" \
    trace "2 * (x*y + max(z, w))" x=3 y=-4 z=2 w=-1
ok "x #0 is used by 2 gates: copy gate, gradient adder: dx = 1 (from f) + 4 (from n2) = 5" \
    trace "x*y + x" x=3 y=4
NET="0.5*((0.4 - sigmoid(w5*sigmoid(w1*0.1 + w2*0.2) + w6*sigmoid(w3*0.1 + w4*0.2)))^2 + (0.6 - sigmoid(w7*sigmoid(w1*0.1 + w2*0.2) + w8*sigmoid(w3*0.1 + w4*0.2)))^2)"
W="w1=0.3 w2=0.25 w3=0.4 w4=0.35 w5=0.45 w6=0.4 w7=0.7 w8=0.6"
# shellcheck disable=SC2086
ok "= 0.50000000 · 1.00000000 · -0.41889201 · -1.00000000 · 0.23802157 · 1.00000000 · 0.51998934" \
    explain "$NET" $W --wrt w5
has "$tmp/out" "∂f/∂w5 = the product along its one path = 0.02592286"
# shellcheck disable=SC2086
ok "∂f/∂w1 = the sum over its 2 paths = 0.00080888" explain "$NET" $W --wrt w1
# shellcheck disable=SC2086
ok '"w5": 0.0259228' grad --json "$NET" $W
ok "path 3 of 3: ∂f/∂x" explain "x*x + x" x=3 --wrt x
has "$tmp/out" "= the sum over its 3 paths = 7.00000000"
ok "path 2 of 6" explain "(x+x)*(x+x)*(x+x)" x=1 --wrt x --max-paths 2
has "$tmp/out" "(4 not shown) = 24.00000000"
ok "∂x/∂y = 0: no path" explain "x" x=1 y=2 --wrt y

# ---- dot ---------------------------------------------------------------------------------
ok "digraph gategrad {" dot "(x + y) * z" x=-2 y=5 z=-4
has "$tmp/out" 'label="{ x | value -2 | grad -4 }"'
if command -v dot >/dev/null 2>&1; then
    dot -Tsvg "$tmp/out" >"$tmp/svg" 2>"$tmp/doterr" || fail "dot rejects: $(cat "$tmp/doterr")"
    "$G" dot "max(a, b) / (c - 2) + a^2" a=1 b=2 c=3 | dot -Tsvg >/dev/null 2>&1 ||
        fail "dot rejects the max/div/pow graph"
else
    echo "graphviz not installed: DOT not rendered"
fi

# ---- help and version ----------------------------------------------------------------------
ok "usage: gategrad COMMAND" --help
has "$tmp/out" "explain"
has "$tmp/out" "Examples:"
for c in grad trace explain dot; do
    ok "usage: gategrad $c" "$c" --help
    has "$tmp/out" "Examples:"
    has "$tmp/out" "right-associative"
done
ok "gategrad 0." --version

# ---- bad input: exit 2, one line naming the problem and its column ------------------------
bad "column 1: unknown function 'foo'" grad "foo(x)" x=1
bad "column 1: max takes 2 arguments, not 1" grad "max(x)" x=1
bad "column 5: sigmoid takes 1 argument, not 2" grad "x + sigmoid(x, 1)" x=1
bad "column 1: unbalanced parentheses: this '(' is never closed" grad "(x + 1" x=1
bad "column 6: unbalanced parentheses: this ')' has no matching '('" grad "x + 1)" x=1
has "$tmp/err" "       ^"
bad "column 5: variable 'q' has no value" grad "x + q" x=1
bad "value of x: 'abc' is not a number" grad "x" x=abc
bad "value of x: '1e999' is out of range" grad "x" x=1e999
bad "variable x is given twice" grad "x" x=1 x=2
bad "column 3: unexpected character '\$'" grad "x \$ 1" x=1
bad "empty expression" grad "" x=1
bad "empty expression" grad "   "
bad "column 4: the expression ends where an operand" grad "x +" x=1
bad "column 3: expected an operator" grad "x y" x=1 y=2
bad "'q' is not NAME=VALUE" grad "x" x=1 q
bad "no expression given" grad
bad "unknown option '--bogus'" grad --bogus "x" x=1
bad "--wrt NAME is required" explain "x" x=1
bad "--wrt y: no variable of that name" explain "x" x=1 --wrt y
bad "unknown command 'frobnicate'" frobnicate
bad "is not a count" explain "x" x=1 --wrt x --max-paths 0
bad "--save /nonexistent/dir/m.safetensors: cannot write into /nonexistent/dir" train --data xor --save /nonexistent/dir/m.safetensors
bad "--epochs: 'abc' is not a whole number" train --data xor --epochs abc
bad "train: unknown option '--bogus'" train --bogus
last="gategrad (no arguments)"
run
[ "$rc" -eq 2 ] || fail "no arguments: exit $rc"

# ---- huge inputs: evaluate or refuse, never crash or hang ------------------------------------
deep=$(awk 'BEGIN { for (i = 0; i < 50000; i++) printf "("; printf "x"; for (i = 0; i < 50000; i++) printf ")" }')
ok '{"value": 3, "grad": {"x": 1}}' grad --json "$deep" x=3
minus=$(awk 'BEGIN { for (i = 0; i < 50001; i++) printf "-"; printf "x" }')
ok '{"value": -3, "grad": {"x": -1}}' grad --json -- "$minus" x=3
sum=$(awk 'BEGIN { printf "x"; for (i = 1; i < 50000; i++) printf "+x" }')
ok '{"value": 150000, "grad": {"x": 50000}}' grad --json "$sum" x=3
ok "x #0 is used by 49999 gates" trace "$sum" x=3
ok "the sum over its 50000 paths (49984 not shown) = 50000.00000000" explain "$sum" x=3 --wrt x
ok "digraph" dot "$sum" x=3
open=$(awk 'BEGIN { for (i = 0; i < 50000; i++) printf "("; printf "x" }')
bad "column 50000: unbalanced parentheses" grad "$open" x=1
funcs=$(awk 'BEGIN { for (i = 0; i < 10000; i++) printf "sigmoid("; printf "x"; for (i = 0; i < 10000; i++) printf ")" }')
ok '"value": 0.6' grad --json "$funcs" x=3

# ---- html: the stepping page -----------------------------------------------------------------
ok '<meta http-equiv="Content-Security-Policy"' html "(x + y) * z" x=-2 y=5 z=-4
has "$tmp/out" 'forward  f #4 = mul(n3 = 3, z = -4) = -12'
for e in circuit gates neuron shopping two-layer vectorized; do
    ok '</html>' html --example "$e"
done
has "$tmp/out" 'W.grad = [2,2] {0.088, 0.176, 0.104, 0.208}'
ok '<html lang="ko">' html --example circuit --lang ko
last="html -o FILE"
run html "x*y + x" x=3 y=4 -o "$tmp/page.html"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] || fail "html -o: exit $rc or stdout not empty"
has "$tmp/page.html" 'dx = 1 (from f) + 4 (from n2) = 5'
ls "$tmp" | grep -q 'page.html.tmp' && fail "html -o left a temporary file"
bad "--lang fr: the page speaks en or ko" html "x" x=1 --lang fr
bad "unknown example 'nope'" html --example nope
bad "--example circuit takes no expression" html --example circuit "x" x=1
bad "-o needs a value" html "x" x=1 -o
bad "column 4" html "x +" x=1
last="html of 49999 gates"
run html "$sum" x=3
[ "$rc" -eq 1 ] || fail "html of a huge graph: exit $rc, not 1"
has "$tmp/err" "html: the graph has 49999 gates, more than the 500 a page can show"
# ---- hessian and dot --grad: the gradient recorded as a graph --------------------------
ok '{"value": 24.199999999999996, "grad": {"x": -215.59999999999997, "y": -87.999999999999986}, "hessian": {"x": {"x": 1330, "y": 480}, "y": {"x": 480, "y": 200}}}' hessian --json "(1 - x)^2 + 100*(y - x^2)^2" x=-1.2 y=1
ok 'd2f/dx dy = -1.25' hessian "x^3 * y + 2*x*y^2" x=1.5 y=-2
ok 'd2f/dy dy = 6' hessian "x^3 * y + 2*x*y^2" x=1.5 y=-2
ok 'd2f/dx dx = 0' hessian "relu(x) * 3 + abs(x)" x=2
ok '"hessian": {"x": {"x": 0, "u": 0}, "u": {"x": 0, "u": 0}}' hessian --json "x" x=1 u=2
bad "column 1: unknown function 'foo'" hessian "foo(x)" x=1
ok '{ df/dx | value 2.5403023 | grad 1 }' dot --grad x "x * y + sin(x)" x=1 y=2
ok '{ x | value 1 | grad -0.84147098 }' dot --grad x "x * y + sin(x)" x=1 y=2
bad "--grad q: no variable 'q' was given a value" dot --grad q "x*y" x=1 y=2
bad "--grad needs a variable name" dot "x*y" x=1 --grad
ok 'result   df/dx = 24, ddf/dx/dx = 8, ddf/dx/dy = 6' trace --grad x "x * x * y" x=3 y=4
ok 'forward  df/dx #8 = add(n7 = 12, n6 = 12) = 24' trace --grad x "x * x * y" x=3 y=4
bad "--grad z: no variable 'z' was given a value" trace --grad z "x * y" x=3 y=4

echo "$checks runs, $failures failures"
[ "$failures" -eq 0 ]
