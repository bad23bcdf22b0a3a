#!/bin/sh
# gategrad train --html: the page of a short training run.
# Usage: sh test_train_report.sh GATEGRAD [SCREENSHOT_DIR]
#   1. The page of a spiral run: self-contained, the run's own numbers
#      (what the command printed per epoch and at the end), the boundary's
#      frames, a gradient norm per layer per epoch; the training is the same
#      with and without --html; 3-D data gets no boundary; wrong names refused.
#   2. chromium (when installed; tools/setup.sh --ci installs it): the DOM
#      after the page's script ran (the slider's label and frame, the
#      #epoch=E deep link), and a screenshot to SCREENSHOT_DIR (default: a
#      temporary folder) that must not be empty. Part 1 runs either way.
set -u
bin=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gg_train_report_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
shots=${2:-$tmp}
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# has FILE TEXT: FILE contains TEXT.
has() { grep -qF -- "$2" "$1" || fail "no '$2' in $1"; }

run="--data spiral --model 2-8-8-8-2:sigmoid --epochs 12 --seed 3"
# shellcheck disable=SC2086
"$bin" train $run --grad-norms --html "$tmp/run.html" >"$tmp/out.txt" 2>"$tmp/err.txt" ||
    fail "train --html: $(cat "$tmp/err.txt")"
page=$tmp/run.html
[ -s "$page" ] || fail "no page written"

# Self-contained: one policy that loads nothing, no address but the SVG namespace.
has "$page" "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
addresses=$(grep -o 'https\?://[^"'\'' ]*' "$page" | grep -v '^http://www.w3.org/2000/svg$' || true)
[ -z "$addresses" ] || fail "network addresses in the page: $addresses"
! grep -q '<script[^>]* src=\|<link\|<img\|<iframe' "$page" || fail "the page loads something"

# The numbers the command printed: every epoch's losses, the test result.
for e in 1 7 12; do
    line=$(grep "^epoch $e/12 " "$tmp/out.txt")
    tl=$(echo "$line" | sed 's/.*train loss \([0-9.]*\).*/\1/')
    vl=$(echo "$line" | sed 's/.*val loss \([0-9.]*\).*/\1/')
    va=$(echo "$line" | sed 's/.*val acc \([0-9.]*\).*/\1/')
    has "$page" "<tr><td>$e</td><td>$tl</td><td>$vl</td><td>$va</td>"
    norms=$(grep -A1 "^epoch $e/12 " "$tmp/out.txt" | tail -1 |
        sed 's/ *weight gradient norms: *//; s/fc[0-9]* //g; s/  */<\/td><td>/g')
    has "$page" "<tr><td>$e</td><td>$norms</td></tr>"
done
acc=$(sed -n 's/^test loss \([0-9.]*\)  test accuracy \([0-9.]*\)$/\2/p' "$tmp/out.txt")
[ -n "$acc" ] || fail "no test accuracy printed"
has "$page" "test accuracy <b id=\"gg-test-accuracy\">$acc</b>"
has "$page" "model <b id=\"gg-model-spec\">2-8-8-8-2:sigmoid</b>"
has "$page" "<th>epoch</th><th>fc1</th><th>fc2</th><th>fc3</th><th>fc4</th></tr>"
has "$page" "fc4 (Dense)"
# the boundary at epochs 1, every 2nd, and the last; the last shown
has "$page" '"epochs":12,"frames":[1,2,4,6,8,10,12]'
[ "$(grep -c 'class="gg-frame"' "$page")" = 7 ] || fail "not 7 boundary frames"
has "$page" '<g class="gg-frame" data-epoch="12" display="inline">'
[ "$(grep -c '<circle ' "$page")" -gt 100 ] || fail "the test points are not drawn"

# The same training with and without --html.
# shellcheck disable=SC2086
with=$("$bin" train $run --json --html "$tmp/again.html" | tail -1 | sed 's/, "train_seconds.*//')
# shellcheck disable=SC2086
without=$("$bin" train $run --json | tail -1 | sed 's/, "train_seconds.*//')
[ -n "$with" ] && [ "$with" = "$without" ] || fail "--html changed the training: '$with' vs '$without'"

# Data that is not 2-D: the report without a boundary. Its name, markup
# and all, reaches the page as text.
d3="$tmp/d<3>&'q\"<script>.csv"
awk 'BEGIN { for (i = 0; i < 200; i++) printf "%g,%g,%g,%d\n", i % 7, i % 5, i % 3, i % 2 }' >"$d3"
"$bin" train --data "$d3" --model 3-4-2 --epochs 2 --html "$tmp/d3.html" >/dev/null 2>"$tmp/err.txt" ||
    fail "train --html on 3-D data: $(cat "$tmp/err.txt")"
has "$tmp/d3.html" 'id="gg-norms"'
! grep -q 'id="gg-boundary"' "$tmp/d3.html" || fail "a boundary drawn for 3-D data"
has "$tmp/d3.html" "d&lt;3&gt;&amp;&#39;q&quot;&lt;script&gt;.csv</b>"
has "$tmp/d3.html" 'd\u003c3\u003e\u0026\u0027q\u0022\u003cscript\u003e.csv"'
! grep -q 'd<3>' "$tmp/d3.html" || fail "the data's name reached the page unescaped"
[ "$(grep -c '<script' "$tmp/d3.html")" = 2 ] || fail "a <script beside the page's own two"

# Names that say another format, folders that are not there: refused before training.
"$bin" train --data spiral --epochs 1 --html "$tmp/r.svg" >/dev/null 2>"$tmp/err.txt"
[ $? = 2 ] || fail "--html r.svg: not refused with exit 2"
has "$tmp/err.txt" "this writes an HTML page; name the file .html"
"$bin" train --data spiral --epochs 1 --html "$tmp/none/r.html" >/dev/null 2>"$tmp/err.txt"
[ $? = 2 ] || fail "--html into a missing folder: not refused with exit 2"
has "$tmp/err.txt" "cannot write into $tmp/none"
[ ! -e "$tmp/r.svg" ] || fail "a refused --html wrote a file"

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "chromium not installed (sh tools/setup.sh --ci): the DOM checks are skipped"
else
    # Chromium's stderr is noisy (D-Bus, GPU, ...): it goes to a file, never checked.
    chrome() {
        timeout 120 "$browser" --no-sandbox --headless --disable-gpu --no-first-run --hide-scrollbars \
            --disable-background-networking --disable-component-update --disable-sync \
            --user-data-dir="$tmp/profile" "$@" 2>>"$tmp/chromium.err"
    }
    chrome --dump-dom "file://$page" >"$tmp/dom.html"
    has "$tmp/dom.html" '<span id="gg-boundary-epoch">epoch 12 of 12</span>'
    chrome --dump-dom "file://$page#epoch=4" >"$tmp/dom.html"
    has "$tmp/dom.html" '<span id="gg-boundary-epoch">epoch 4 of 12</span>'
    has "$tmp/dom.html" '<g class="gg-frame" data-epoch="4" display="inline">'
    has "$tmp/dom.html" '<g class="gg-frame" data-epoch="12" display="none">'
    [ "$(grep -c 'display="inline"' "$tmp/dom.html")" = 1 ] || fail "#epoch=4: not exactly one frame shown"
    chrome --dump-dom "file://$page#epoch=5" >"$tmp/dom.html" # no frame at 5: the last
    has "$tmp/dom.html" '<span id="gg-boundary-epoch">epoch 12 of 12</span>'
    chrome --window-size=1000,2300 --screenshot="$shots/train-report.png" "file://$page" >/dev/null
    [ "$(wc -c <"$shots/train-report.png" 2>/dev/null || echo 0)" -gt 50000 ] ||
        fail "screenshot $shots/train-report.png missing or nearly empty"
fi

if [ "$failures" -gt 0 ]; then
    echo "$failures failures"
    exit 1
fi
echo "the training report: all checks passed"
