#!/bin/sh
# The stepping page driven by clicks, keys and edits (tests/page/test_page_clicks.js,
# playwright-core with Debian's chromium).
# Usage: sh test_page_clicks.sh GATEGRAD PAGE_DIR
#   PAGE_DIR: tests/page, holding package.json, package-lock.json and, after
#   `npm ci` there (tools/setup.sh --ci runs it), node_modules.
# Exits 77 (skipped) when chromium, node or node_modules is not there.
set -u
bin=$1
dir=$2
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ] || ! command -v node >/dev/null 2>&1; then
    echo "chromium or node not installed (sh tools/setup.sh --ci): the clicks are not driven"
    exit 77
fi
if [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
    echo "no playwright-core in $dir/node_modules (cd $dir && npm ci; tools/setup.sh --ci does): skipped"
    exit 77
fi
pinned=$(node -p "require('$dir/package.json').dependencies['playwright-core']")
there=$(node -p "require('$dir/node_modules/playwright-core/package.json').version")
if [ "$there" != "$pinned" ]; then
    echo "FAIL: $dir/node_modules has playwright-core $there, package.json pins $pinned (run npm ci there)"
    exit 1
fi
exec node "$dir/test_page_clicks.js" "$bin" "$browser"
