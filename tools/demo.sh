#!/usr/bin/env bash
# Runs a command in the sandbox on a bundle made here: a rootfs holding static busybox and a
# static C hello world. Usage: tools/demo.sh [command args...]  (default: the hello program)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/tools/setup.sh"
work=$(mktemp -d /tmp/runsc-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for t in sh echo ls cat true; do ln -s busybox "$work/bundle/rootfs/bin/$t"; done
gcc -static -O2 -o "$work/bundle/rootfs/bin/hello" "$here/tests/progs/hello.c"
cd "$work/bundle"
deno run -A "$here/main.ts" spec --bundle "$work/bundle" >/dev/null
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(/bin/hello demo)
deno eval --ext=ts "
  const p = '$work/bundle/config.json';
  const c = JSON.parse(Deno.readTextFileSync(p));
  c.process.args = Deno.args;
  c.process.terminal = false;
  Deno.writeTextFileSync(p, JSON.stringify(c, null, 2));
" -- "${args[@]}"
status=0
deno run -A "$here/main.ts" ${RUNSC_FLAGS:-} --root "$work/state" run --bundle "$work/bundle" "demo-$$" || status=$?
exit "$status"
