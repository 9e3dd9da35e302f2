#!/usr/bin/env bash
# The docs' commands as a test: runs every ```sh test block of README.md and docs/*.md with
# the built binaries on PATH and MovieLens under data/, and fails if one exits non-zero.
# Also: a ```text expect block right after a ```sh test block must equal its stdout; a
# ```cpp FILE block must equal FILE; every option of `recflow <cmd> --help` must appear in
# docs/command-line.md. The convention is in docs/development.md. CTest runs it as
#   tests/docs_commands.sh SOURCE_DIR BIN_DIR     (BIN_DIR: where recflow and the examples are)
# Environment: RECFLOW_DATA (folder holding ml-100k/; default ../shared/data beside SOURCE_DIR).
set -uo pipefail

if [ $# -ne 2 ]; then
  sed -n '2,8p' "$0"
  exit 2
fi
src=$(cd "$1" && pwd)
bin=$(cd "$2" && pwd)
data=${RECFLOW_DATA:-$src/../shared/data}
if [ ! -f "$data/ml-100k/u.data" ]; then
  echo "docs_commands: MovieLens 100K not found: $data/ml-100k/u.data (set RECFLOW_DATA)" >&2
  exit 1
fi
data=$(cd "$data" && pwd)
if [ ! -x "$bin/recflow" ]; then
  echo "docs_commands: no recflow binary in $bin" >&2
  exit 1
fi
# The commands use gnuplot (recflow compare and partitions --chart): without it the test is
# skipped (exit 77, CTest's SKIP_RETURN_CODE), or fails under CI=true, whose test command
# installs it.
if ! command -v gnuplot >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "docs_commands: gnuplot is not installed, and CI runs every test" >&2
    exit 1
  fi
  echo "docs_commands: SKIPPED: gnuplot is not installed (recflow compare and partitions --chart need it)"
  exit 77
fi
export PATH="$bin:$PATH"
work=$(mktemp -d "${TMPDIR:-/tmp}/recflow-docs.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# extract FILE DIR: writes DIR/NNN.sh (the Nth sh test block), DIR/NNN.line (its line),
# DIR/NNN.expect (a text expect block after it), DIR/cNNN.cpp and DIR/cNNN.path (a cpp FILE
# block). A text expect block must follow a sh test block with only blank lines between.
extract() {
  awk -v dir="$2" '
    function open_block(name) { out = dir "/" name; printf "" > out }
    BEGIN { n = 0; c = 0; inside = 0; after_sh = 0 }
    inside && /^```[ \t]*$/ {
      if (out != "") close(out)
      inside = 0; after_sh = (kind == "sh"); out = ""; next
    }
    inside { if (out != "") print > out; next }
    /^```/ {
      info = substr($0, 4); sub(/^[ \t]+/, "", info); sub(/[ \t]+$/, "", info)
      inside = 1; kind = ""; out = ""
      if (info == "sh test") {
        kind = "sh"; n++; open_block(sprintf("%03d.sh", n))
        print NR > (dir "/" sprintf("%03d.line", n)); close(dir "/" sprintf("%03d.line", n))
      } else if (info == "text expect") {
        if (!after_sh) { print FILENAME ":" NR ": a text expect block must follow a sh test block" > "/dev/stderr"; bad = 1 }
        else { kind = "expect"; open_block(sprintf("%03d.expect", n)) }
      } else if (info ~ /^cpp [^ ]+$/) {
        kind = "cpp"; c++; split(info, parts, " ")
        print parts[2] > (dir "/" sprintf("c%03d.path", c)); close(dir "/" sprintf("c%03d.path", c))
        open_block(sprintf("c%03d.cpp", c))
      }
      after_sh = 0; next
    }
    /[^ \t]/ { after_sh = 0 }
    END { if (inside) { print FILENAME ": unclosed code block" > "/dev/stderr"; bad = 1 } exit bad }
  ' "$1"
}

start=$SECONDS
blocks=0
for page in "$src/README.md" "$src"/docs/*.md; do
  rel=${page#"$src"/}
  name=$(echo "$rel" | tr '/.' '__')
  dir="$work/blocks/$name"
  run="$work/run/$name"
  mkdir -p "$dir" "$run"
  extract "$page" "$dir" || fail "$rel: malformed code blocks"
  for f in "$dir"/c*.path; do
    [ -e "$f" ] || continue
    file=$(cat "$f")
    if ! diff -u "$src/$file" "${f%.path}.cpp" > "$work/diff" 2>&1; then
      fail "$rel: the cpp block for $file differs from the file:"
      cat "$work/diff"
    fi
  done
  ln -s "$data" "$run/data"
  ln -s "$src/config" "$run/config"
  for block in "$dir"/[0-9]*.sh; do
    [ -e "$block" ] || continue
    blocks=$((blocks + 1))
    id=${block%.sh}
    line=$(cat "$id.line")
    t0=$(date +%s.%N)
    (cd "$run" && bash -e -o pipefail "$block") > "$id.out" 2> "$id.err"
    rc=$?
    t1=$(date +%s.%N)
    seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -ne 0 ]; then
      fail "$rel:$line exited $rc after $seconds s:"
      sed 's/^/    /' "$block"
      echo "  stdout (last 20 lines):"
      tail -n 20 "$id.out" | sed 's/^/    /'
      echo "  stderr (last 20 lines):"
      tail -n 20 "$id.err" | sed 's/^/    /'
      continue
    fi
    if [ -e "$id.expect" ] && ! diff -u "$id.expect" "$id.out" > "$work/diff"; then
      fail "$rel:$line: the output differs from the text expect block below it:"
      cat "$work/diff"
      continue
    fi
    echo "ok   $rel:$line ($seconds s)"
  done
done

# Every option of every subcommand is documented on the command-line page.
reference="$src/docs/command-line.md"
commands=$(recflow --help | awk '/^Subcommands:/ { on = 1; next } on && NF { print $1 }')
[ -n "$commands" ] || fail "recflow --help lists no subcommands"
for cmd in "" $commands; do
  # shellcheck disable=SC2086
  for opt in $(recflow $cmd --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
    grep -qE -- "${opt}([^a-z0-9-]|\$)" "$reference" \
      || fail "recflow ${cmd:+$cmd }$opt is not in docs/command-line.md"
  done
done

echo "$blocks blocks in $((SECONDS - start)) s, $failures failure(s)"
[ "$blocks" -gt 0 ] || { echo "FAIL: no sh test block found"; exit 1; }
[ "$failures" -eq 0 ]
