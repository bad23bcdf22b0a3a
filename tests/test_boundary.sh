#!/bin/sh
# The line between the library, its public API and the gategrad command.
# Usage: sh test_boundary.sh SOURCE_ROOT LIBGATEGRAD_SO [PARTS]
#   PARTS: a comma-separated subset of exports,tools,strings (default: all)
#   1. libgategrad.so exports exactly the GG_API declarations of include/:
#      every exported name is a public gg_ name (no gg__ and no internal
#      prefix such as ggb_, ggk_, ggc_) declared GG_API, and every GG_API
#      declaration is exported.
#   2. tools/ (the gategrad command) is a client of the public API only: it
#      includes <gategrad.h>, "gategrad/..." public headers and its own
#      headers, never a src/ header, and tools/meson.build neither adds
#      src_inc nor links the internal archive.
#   3. The library never speaks the command's vocabulary: no option names
#      ("--lr") and no "gategrad SUBCOMMAND" in string literals under src/
#      (comments may name them; what reaches a user through gg_error must
#      not).
set -u
src=$1
so=$2
parts=,${3:-exports,tools,strings},
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gg_boundary_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

part() { case $parts in *,"$1",*) return 0 ;; *) return 1 ;; esac; }

# 1. Exports against the GG_API declarations.
check_exports() {
    if ! nm -D --defined-only "$so" >"$tmp/nm" 2>"$tmp/nm.err"; then
        fail "nm -D --defined-only $so: $(cat "$tmp/nm.err")"
    fi
    # Code and data symbols only (T, D, B, R, V, W, i, u); the versioning
    # symbols the linker adds (A) are not the library's.
    awk 'NF >= 3 && $2 !~ /^[AaNU]$/ { print $3 }' "$tmp/nm" | sed 's/@.*//' | sort -u >"$tmp/exported"
    # Each GG_API declaration is one line starting with GG_API whose name is
    # the last identifier before the first '('.
    grep -rh '^GG_API' "$src/include" | sed 's/(.*//' |
        sed 's/.*[^A-Za-z0-9_]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*$/\1/' | sort -u >"$tmp/declared"
    n_exported=$(wc -l <"$tmp/exported")
    n_declared=$(wc -l <"$tmp/declared")
    [ "$n_declared" -gt 0 ] || fail "no GG_API declaration found under $src/include"
    [ "$n_exported" -gt 0 ] || fail "$so exports nothing"
    bad_names=$(grep -v '^gg_[a-z]' "$tmp/exported")
    [ -z "$bad_names" ] || fail "exported names that are not public gg_ names:" $bad_names
    internal=$(grep -E '^(gg__|ggb_|ggc_|ggg_|ggk_|ggd_|ggi_|gge_|ggm_|ggn_|ggt_)' "$tmp/exported")
    [ -z "$internal" ] || fail "internal symbols exported:" $internal
    undeclared=$(comm -23 "$tmp/exported" "$tmp/declared")
    [ -z "$undeclared" ] || fail "exported but not declared GG_API in include/:" $undeclared
    unexported=$(comm -13 "$tmp/exported" "$tmp/declared")
    [ -z "$unexported" ] || fail "declared GG_API in include/ but not exported:" $unexported
    echo "exports: $n_exported exported symbols, $n_declared GG_API declarations checked"
}

# 2. tools/ includes only public headers and its own.
check_tools() {
    n_includes=0
    for f in "$src"/tools/*.c "$src"/tools/*.h; do
        [ -f "$f" ] || continue
        grep -n '^[[:space:]]*#[[:space:]]*include' "$f" >"$tmp/inc" || continue
        while IFS= read -r line; do
            n_includes=$((n_includes + 1))
            where="tools/${f##*/}:${line%%:*}"
            spec=$(printf '%s\n' "$line" | sed 's/^[0-9]*:[[:space:]]*#[[:space:]]*include[[:space:]]*//')
            case $spec in
            \"*\"*) name=${spec#\"}; name=${name%%\"*}; quoted=1 ;;
            \<*\>*) name=${spec#<}; name=${name%%>*}; quoted=0 ;;
            *) fail "$where: unrecognised include: $spec"; continue ;;
            esac
            case $name in
            gategrad.h) continue ;;
            gategrad/*)
                [ -f "$src/include/$name" ] || fail "$where: $name is not a public header (include/$name)"
                continue ;;
            *..*) fail "$where: includes $name: a path out of tools/"; continue ;;
            esac
            top=${name%%/*}
            if [ -e "$src/src/$name" ] || { [ "$top" != "$name" ] && [ -d "$src/src/$top" ]; }; then
                fail "$where: includes $name, a library-internal header under src/"
            elif [ "$quoted" -eq 1 ] && [ ! -f "$src/tools/$name" ]; then
                fail "$where: includes \"$name\", neither a public header nor one of tools/"
            fi
        done <"$tmp/inc"
    done
    [ "$n_includes" -gt 0 ] || fail "no #include found under $src/tools"
    if grep -nE 'src_inc|gg_internal' "$src/tools/meson.build"; then
        fail "tools/meson.build uses src_inc or the internal archive (lines above)"
    fi
    echo "tools: $n_includes includes checked"
}

# 3. String literals under src/, comments removed: no option names, no
# "gategrad SUBCOMMAND" (the subcommands listed in tools/meson.build).
check_strings() {
    subcommands=$(sed -n "s/^gategrad_commands *= *\[\(.*\)\]/\1/p" "$src/tools/meson.build" | sed "s/[',]/ /g")
    [ -n "$subcommands" ] || fail "no gategrad_commands list in tools/meson.build"
    alt=$(printf '%s\n' $subcommands bench | paste -sd '|' -)
    find "$src/src" -name '*.[ch]' | sort >"$tmp/files"
    n_strings=0
    while IFS= read -r f; do
        # One line per string literal: FILE:LINE:CONTENTS. A small C scanner:
        # skips // and /* */ comments and character constants, follows escapes.
        awk -v file="${f#"$src"/}" '
        BEGIN { state = 0 }   # 0 code, 1 block comment, 2 string, 3 char
        {
            line = $0; n = length(line); i = 1
            if (state == 2) { state = 0 }   # a string never spans lines here
            while (i <= n) {
                c = substr(line, i, 1); d = substr(line, i, 2)
                if (state == 1) {
                    if (d == "*/") { state = 0; i += 2 } else i++
                } else if (state == 2) {
                    if (c == "\\") { s = s d; i += 2 }
                    else if (c == "\"") { print file ":" NR ":" s; state = 0; i++ }
                    else { s = s c; i++ }
                } else if (state == 3) {
                    if (c == "\\") i += 2
                    else { if (c == "\047") state = 0; i++ }
                } else if (d == "//") { i = n + 1 }
                else if (d == "/*") { state = 1; i += 2 }
                else if (c == "\"") { state = 2; s = ""; i++ }
                else if (c == "\047") { state = 3; i++ }
                else i++
            }
        }' "$f"
    done <"$tmp/files" >"$tmp/strings"
    n_strings=$(wc -l <"$tmp/strings")
    [ "$n_strings" -gt 100 ] || fail "only $n_strings string literals found under src/: the scanner is broken"
    if grep -E -e '(^|[^-])--[a-z]' -e "gategrad ($alt)([^a-z]|\$)" "$tmp/strings" >"$tmp/vocab"; then
        fail "the command's vocabulary in the library's strings (expected until the change removing them is merged):"
        sed 's/^/    /' "$tmp/vocab"
    fi
    echo "src: $n_strings string literals checked for option names and 'gategrad $(echo "$alt" | tr '|' ' ')'"
}

part exports && check_exports
part tools && check_tools
part strings && check_strings

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "boundary: all checks passed"
