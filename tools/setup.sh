#!/usr/bin/env bash
# Installs what runsc-ts needs on a fresh machine: Deno (from the npm registry) and, for the
# test root filesystems, busybox-static. gcc must already be there (tests compile tests/progs).
# Quiet when everything is present; says what it installs otherwise.
set -euo pipefail
DENO_VERSION=2.9.6

if ! command -v deno >/dev/null 2>&1 || [[ "$(deno --version | head -1)" != "deno ${DENO_VERSION} "* ]]; then
  echo "setup: installing deno ${DENO_VERSION} from npm" >&2
  npm install -g --silent "deno@${DENO_VERSION}" >&2
fi

if ! [ -x /bin/busybox ] || ! file -L /bin/busybox 2>/dev/null | grep -q "statically linked"; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing busybox-static" >&2
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >&2
  else
    echo "setup: busybox-static is missing and cannot be installed here (tests that need it skip)" >&2
  fi
fi

# The network probes run their native side in a namespace whose loopback `ip` brings up.
if ! command -v ip >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: installing iproute2" >&2
  apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >&2
fi

command -v gcc >/dev/null 2>&1 || echo "setup: gcc is missing: tests that compile tests/progs skip" >&2
