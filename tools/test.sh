#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, then runs `deno task test`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/tools/setup.sh"
cd "$here"
exec deno task test "$@"
