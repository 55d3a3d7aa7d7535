#!/usr/bin/env bash
# Hosts for a8's end-to-end tests, as network namespaces on this machine.
#
#   netns.sh up N [PREFIX]   namespaces PREFIXh1..PREFIXhN, each with eth0 = 10.88.0.<i>/24
#                            and lo up, joined by bridge br0 in namespace PREFIXbr
#   netns.sh down [PREFIX]   removes them (and everything inside)
#   netns.sh list [PREFIX]   prints the host namespaces that exist
#
# PREFIX defaults to $A8_NETNS_PREFIX, else "a8": give parallel test runs different prefixes.
# Every device lives inside our own namespaces (the root namespace gets nothing), so runs with
# different prefixes do not clash even though they use the same 10.88.0.0/24 addresses.
# Both commands are idempotent. Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) and iproute2.
set -euo pipefail

usage() {
  echo "usage: $0 up N [PREFIX] | down [PREFIX] | list [PREFIX]" >&2
  exit 64
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# Runs `ip` inside namespace $1.
nsip() { local ns=$1; shift; ip -n "$ns" "$@"; }

up() {
  local n=$1 p=$2 br="${2}br"
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 250)) || { echo "netns.sh: N must be 1..250" >&2; exit 64; }
  ns_exists "$br" || ip netns add "$br"
  nsip "$br" link set lo up
  nsip "$br" link show br0 >/dev/null 2>&1 || nsip "$br" link add br0 type bridge
  nsip "$br" link set br0 up
  local i h
  for ((i = 1; i <= n; i++)); do
    h="${p}h$i"
    ns_exists "$h" || ip netns add "$h"
    nsip "$h" link set lo up
    if ! nsip "$h" link show eth0 >/dev/null 2>&1; then
      # A leftover bridge port from a half-made earlier run would block the name.
      nsip "$br" link del "v$i" >/dev/null 2>&1 || true
      ip link add "a8tmp$$" netns "$h" type veth peer name "v$i" netns "$br"
      nsip "$h" link set "a8tmp$$" name eth0
    fi
    nsip "$br" link set "v$i" master br0
    nsip "$br" link set "v$i" up
    nsip "$h" addr replace "10.88.0.$i/24" dev eth0
    nsip "$h" link set eth0 up
    # As the README recommends for the criu engine (a8 doctor: tcp_migrate_req); per namespace.
    ip netns exec "$h" sh -c 'echo 1 > /proc/sys/net/ipv4/tcp_migrate_req' 2>/dev/null || true
  done
  # Wait until every host answers on the bridge (the bridge may need a moment to forward).
  # No ping on a minimal system: a TCP connect to a closed port that is refused at once
  # (rather than timing out) shows the host is reachable.
  for ((i = 2; i <= n; i++)); do
    local ok=0 t
    for t in $(seq 1 50); do
      local out
      out=$(ip netns exec "${p}h1" timeout 1 bash -c "exec 3<>/dev/tcp/10.88.0.$i/9" 2>&1 || true)
      if [[ $out == *"Connection refused"* ]]; then ok=1; break; fi
      sleep 0.1
    done
    ((ok)) || { echo "netns.sh: ${p}h1 cannot reach 10.88.0.$i" >&2; exit 1; }
  done
  echo "netns.sh: up: ${p}h1..${p}h$n (10.88.0.1..$n), bridge in ${br}"
}

down() {
  local p=$1 ns
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^${p}(h[0-9]+|br)\$" || true); do
    ip netns del "$ns"
  done
  echo "netns.sh: down: prefix ${p}"
}

list() { ip netns list | awk '{print $1}' | grep -E "^${1}h[0-9]+\$" | sort -V || true; }

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
  up)
    [[ $# -ge 1 ]] || usage
    prefix=${2:-${A8_NETNS_PREFIX:-a8}}
    [[ $prefix =~ ^[a-z][a-z0-9]{0,11}$ ]] || { echo "netns.sh: PREFIX must be [a-z][a-z0-9]{0,11}" >&2; exit 64; }
    up "$1" "$prefix"
    ;;
  down) down "${1:-${A8_NETNS_PREFIX:-a8}}" ;;
  list) list "${1:-${A8_NETNS_PREFIX:-a8}}" ;;
  *) usage ;;
esac
