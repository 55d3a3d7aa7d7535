#!/usr/bin/env bash
# Installs everything a8 needs on a fresh Debian 12 machine: Debian packages, Deno
# (from the npm registry, into .tools/) and CRIU 4 (scripts/criu.sh, into .tools/criu/).
# `make build` then builds the monitor.
# Idempotent: a second run only checks.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

DENO_VERSION=2.9.5   # arm64 builds on npm stop at 2.9.5: keep both ISAs on one version
APT_PACKAGES=(build-essential curl iproute2 lighttpd nginx-light wrk strace python3
              ca-certificates)

# npm fetches Deno. Debian's npm package only when no npm is there: a Node.js from
# elsewhere (nodesource) ships its own npm and conflicts with Debian's.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The distribution's services would hold ports 80 and stray logs; a8 starts its own.
  for s in lighttpd nginx; do
    (systemctl disable --now "$s" || service "$s" stop) >/dev/null 2>&1 || true
  done
fi

deno_rel="node_modules/@deno/linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')-glibc/deno"
deno_bin="$here/.tools/$deno_rel"
if ! [ -x "$deno_bin" ] || ! "$deno_bin" --version 2>/dev/null | grep -q "deno $DENO_VERSION"; then
  echo "setup: installing Deno $DENO_VERSION from the npm registry"
  mkdir -p .tools
  npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$here/.tools" "deno@$DENO_VERSION" >/dev/null
fi
# Relative to .tools: a checkout moved or copied elsewhere still finds its own.
ln -sfn "$deno_rel" .tools/deno
echo "setup: deno $("$here/.tools/deno" --version | head -1 | cut -d' ' -f2) at .tools/deno"

# Debian 12's own CRIU fails on recent kernels: a private CRIU 4 from Debian 13 instead.
"$here/scripts/criu.sh"
