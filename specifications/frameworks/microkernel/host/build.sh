#!/bin/sh
# Build the microkernel sample framework for the host.
#
# usage: sh build.sh <repo_dir> <dst>
#   <repo_dir>  checkout of the microkernel repository (its root holds microkernel.c)
#   <dst>       path of the executable to create (parent directories are created)
#
# Environment: CC (default cc; may carry words, e.g. "ccache cc"), CFLAGS and
# LDFLAGS (optional, split on blanks, appended after the defaults so they can
# override them, e.g. CFLAGS=-DCONV_UNITS=105).
# The build succeeded only if <dst> exists afterwards; on failure <dst> is absent
# and the exit status is non-zero.
set -eu
set -f # CFLAGS/LDFLAGS are split into words on purpose; never glob them

prog="build.sh"
die() {
    printf '%s: error: %s\n' "$prog" "$*" >&2
    exit 1
}

[ "$#" -eq 2 ] || {
    printf 'usage: sh build.sh <repo_dir> <dst>\n' >&2
    exit 2
}
repo_dir=$1
dst=$2
[ -n "$repo_dir" ] || die "empty <repo_dir>"
[ -n "$dst" ] || die "empty <dst>"

src="$repo_dir/microkernel.c"
[ -d "$repo_dir" ] || die "repository directory not found: $repo_dir"
[ -f "$src" ] || die "source file not found: $src"

cc=${CC:-cc}
cflags=${CFLAGS:-}
ldflags=${LDFLAGS:-}
# shellcheck disable=SC2086 # the first word of CC is the program
set -- $cc
[ "$#" -ge 1 ] || die "CC is empty"
command -v "$1" >/dev/null 2>&1 || die "C compiler not found: $1 (set CC)"

dst_dir=$(dirname -- "$dst")
mkdir -p -- "$dst_dir" || die "cannot create directory: $dst_dir"

# Compile next to <dst> and rename into place, so <dst> never exists half-written.
tmp="$dst.tmp.$$"
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
rm -f -- "$dst"

# shellcheck disable=SC2086 # word splitting of CC/CFLAGS/LDFLAGS is intended
if ! $cc -O2 -std=c11 $cflags -o "$tmp" "$src" $ldflags -lm; then
    die "compilation of $src failed (CC='$cc' CFLAGS='$cflags' LDFLAGS='$ldflags')"
fi
[ -f "$tmp" ] || die "compiler produced no output file: $dst"
chmod +x -- "$tmp"
mv -f -- "$tmp" "$dst" || die "cannot move the executable into place: $dst"
printf '%s: built %s\n' "$prog" "$dst" >&2
