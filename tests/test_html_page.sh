#!/bin/sh
# The stepping page as a browser runs it.
# Usage: sh test_html_page.sh GATEGRAD test_html_agree.js [SCREENSHOT_DIR]
#   1. node (when installed): C and the page's script agree on every lecture
#      example and on random expressions (test_html_agree.js).
#   2. chromium (when installed; tools/setup.sh --ci installs it): pages
#      loaded headless at several #step=N states with --dump-dom, and the
#      numbers the DOM then shows (escaping is test_html.c's); screenshots of a backward step (English and Korean) go to
#      SCREENSHOT_DIR (default: a temporary folder) and must not be empty.
# Exits 77 (skipped) when neither node nor chromium is there.
set -u
bin=$1
agree=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gg_html_page_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
shots=${3:-$tmp}
failures=0
ran=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

if command -v node >/dev/null 2>&1; then
    ran=1
    node "$agree" "$bin" || fail "C and the page disagree (test_html_agree.js)"
else
    echo "node not installed: the agreement of C and the page is not checked"
fi

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "chromium not installed (sh tools/setup.sh --ci): the DOM checks are skipped"
    [ $ran = 1 ] && exit $((failures > 0))
    exit 77
fi

# Chromium's stderr is noisy (D-Bus, GPU, ...): it goes to a file, never checked.
chrome() {
    timeout 120 "$browser" --no-sandbox --headless --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$tmp/profile" "$@" 2>>"$tmp/chromium.err"
}

# dom PAGE STEP: the DOM after the page's script ran at #step=STEP.
dom() { chrome --dump-dom "file://$1#step=$2" >"$tmp/dom.html"; }

# has TEXT: the last DOM dump contains TEXT.
has() {
    grep -qF -- "$1" "$tmp/dom.html" || fail "step $step of $page: no '$1' in the DOM"
}
hasnt() {
    ! grep -qF -- "$1" "$tmp/dom.html" || fail "step $step of $page: '$1' in the DOM"
}

page=circuit
"$bin" html --example circuit -o "$tmp/circuit.html" || fail "gategrad html --example circuit"
step=0; dom "$tmp/circuit.html" 0
has '<span id="gg-where">start 0/4</span>'
has 'id="ev4_0">not yet computed</text>'
has 'id="ng3"></text>'
has 'id="nv0">-2</text>'
has 'Nothing is computed yet.'
step=1; dom "$tmp/circuit.html" 1
has '<span id="gg-where">forward 1/2</span>'
has 'forward  q #3 = add(x = -2, y = 5) = 3'
has 'id="ev4_0">3</text>'
has 'id="ev-out"></text>'
step=2; dom "$tmp/circuit.html" 2
has '<span id="gg-where">forward 2/2</span>'
has 'id="ev-out">-12</text>'
has 'id="eg4_0"></text>'
step=3; dom "$tmp/circuit.html" 3
has '<span id="gg-where">backward 1/2</span>'
has 'id="eg4_0">-4</text>'
has 'id="eg4_1">3</text>'
has 'id="eg3_0">not yet computed</text>'
has 'id="ng2">grad 3</text>'
has 'id="ng0">not yet computed</text>'
has 'class="node gate active"'
has 'class="node var dim"'
has 'dq = z * upstream = -4 * 1 = -4, dz = q * upstream = 3 * 1 = 3'
step=4; dom "$tmp/circuit.html" 4
has '<span id="gg-where">backward 2/2</span>'
has 'id="ng0">grad -4</text>'
has 'id="ng1">grad -4</text>'
has 'id="eg3_0">-4</text>'
has 'Every gradient has arrived.'
step=99; dom "$tmp/circuit.html" 99 # past the end: the last step
has '<span id="gg-where">backward 2/2</span>'
has 'id="in0"'

step=4; dom "$tmp/circuit.html" "4&v.x=1" # x edited to 1: (1 + 5) * -4
has 'id="ev-out">-24</text>'
has 'id="ng2">grad 6</text>'
has 'recomputed in the page from the gate table'
has 'dx = local × upstream = 1 × -4 = -4'

page=fanout
"$bin" html "x*y + x" x=3 y=4 -o "$tmp/fanout.html" || fail "gategrad html x*y + x"
step=3; dom "$tmp/fanout.html" 3
has 'dx = 1 (from f) = 1  (so far; 1 more to come)'
step=4; dom "$tmp/fanout.html" 4
has 'backward x #0 is used by 2 gates: copy gate, gradient adder: dx = 1 (from f) + 4 (from n2) = 5'
has 'dx = 1 (from f) + 4 (from n2) = 5  (total)'

page=gates
"$bin" html --example gates -o "$tmp/gates.html" || fail "gategrad html --example gates"
step=7; dom "$tmp/gates.html" 7
has 'dz = upstream (2 &gt;= -1) = 2, dw = 0 (routed to the other input)'
has '0 (routed)</text>'
has 'class="wire routed active"'
has 'dz: upstream 2 × local 1 = downstream 2'

page=nan
"$bin" html "log(x) + sqrt(y)" x=0 y=-1 -o "$tmp/nan.html" || fail "gategrad html log(x) + sqrt(y)"
step=6; dom "$tmp/nan.html" 6
has 'id="ev4_0">-inf</text>'
has 'id="ev4_1">nan</text>'
has 'id="ng0">grad inf</text>'
has 'id="ng1">grad nan</text>'

page=program
"$bin" html "q = a * b; z = q + a" a=1 b=2 -o "$tmp/program.html" || fail "gategrad html program"
step=0; dom "$tmp/program.html" 0
has '<title>gategrad: z</title>'
# the DOM holds the page's three scripts and nothing the data could add
[ "$(grep -o '<script' "$tmp/dom.html" | wc -l)" = 3 ] || fail "program: not 3 scripts in the DOM"

page=fanout
step=4; dom "$tmp/fanout.html" "4&path=x" # the chain rule for x, path by path
has 'path 2: ∂f/∂x = 1 = 1'
has 'path 1: ∂f/∂n2 · ∂n2/∂x = 1 · 4 = 4'
has 'sum over paths = 5 = x.grad 5'
has 'class="wire path"'       # on a path: not dimmed, though not the active gate's

page=vectorized
"$bin" html --example vectorized -o "$tmp/vectorized.html" || fail "gategrad html --example vectorized"
step=6; dom "$tmp/vectorized.html" 6
has '<span id="gg-where">backward 3/3</span>'
has 'W.grad = [2,2] {0.088, 0.176, 0.104, 0.208}, x.grad = [2,1] {-0.112, 0.636}'
has '<title>0.208</title>'
has 'recorded numbers only, not editable'
step=0; dom "$tmp/vectorized.html" 0
has '<title>not yet computed</title>'

page=ko
"$bin" html --example two-layer --lang ko -o "$tmp/ko.html" || fail "gategrad html --example two-layer --lang ko"
step=30; dom "$tmp/ko.html" 30
has '역전파 7/23'
has 'do1: upstream gradient -0.209446 × local gradient -1 = downstream gradient 0.209446'
has '<html lang="ko">'
# the card's rule sentence in Korean, the lecture's words (gate names as the slides write them)
"$bin" html --example gates --lang ko -o "$tmp/gates-ko.html" || fail "gategrad html --example gates --lang ko"
step=7; dom "$tmp/gates-ko.html" 7
has 'max gate, gradient router: 더 큰 입력값이 upstream에서 온 gradient를 모두 받고, 다른 입력값은 0을 받는다'
step=6; dom "$tmp/gates-ko.html" 6
has 'add gate, gradient distributor: 두 입력값 모두 upstream에서 온 gradient를 그대로 받는다'
step=8; dom "$tmp/gates-ko.html" 8
has 'mul gate, "swap multiplier": 각 입력값은 upstream에서 온 gradient에 다른 입력값을 곱한 값을 받는다'

# Screenshots of a backward step: a picture, not an empty file.
chrome --window-size=1400,820 --screenshot="$shots/html-circuit-backward.png" "file://$tmp/gates.html#step=7" >/dev/null
chrome --window-size=1400,820 --screenshot="$shots/html-two-layer-ko.png" "file://$tmp/ko.html#step=30" >/dev/null
for f in "$shots/html-circuit-backward.png" "$shots/html-two-layer-ko.png"; do
    [ "$(wc -c <"$f" 2>/dev/null || echo 0)" -gt 20000 ] || fail "screenshot $f missing or nearly empty"
done

if [ "$failures" -gt 0 ]; then
    echo "$failures failures"
    exit 1
fi
echo "the page: node and chromium checks passed"
