#!/usr/bin/env bash
# Installs a working CRIU (>= 4.2) and its libcriu into .tools/criu/ without touching the system.
#
# Which CRIU: Debian 12's criu 3.17 fails `criu check` on recent kernels ("vdso: Unexpected rt
# vDSO area bounds"). Debian 13's criu 4.1.1 passes it, but cannot dump any process with an
# IPv4/IPv6 socket on Linux >= 6.16 (getsockopt(SO_PASSCRED) on such sockets now fails with
# EOPNOTSUPP), and its dumps hang where hardware breakpoints do not fire (this Firecracker VM).
# CRIU 4.2 fixes both, and Debian testing (forky) has it. See docs/criu.md.
#
# How: forky's criu needs a newer glibc than Debian 12's, and installing it with apt would
# upgrade the system's libc. So this script fetches the packages with a private apt
# configuration (own sources.list, state and cache in .tools/apt-criu/; the system's apt and
# dpkg state stay untouched), unpacks them with `dpkg -x` into .tools/criu/, and writes
# .tools/criu/criu, a wrapper that starts that criu through the suite's own dynamic loader and
# libraries. libcriu.so.2 and libprotobuf-c.so.1 from the same suite need only glibc 2.14: the
# agent loads them from the prefix into its own process (ffi/libcriu.ts) and points libcriu at
# the wrapper as its service binary.
#
#   scripts/criu.sh          install unless a good enough CRIU is there already (fast then)
#   scripts/criu.sh --force  fetch and unpack again
#
# Needs root (apt's downloads), network access to Debian's mirrors, and dpkg.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

SUITE=forky
CRIU_MIN=4.2.1   # the oldest upstream version accepted; testing moves, so newer ones will do
MIRROR=http://deb.debian.org/debian
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

prefix="$here/.tools/criu"
aptdir="$here/.tools/apt-criu"
force=0
[[ ${1:-} == --force ]] && force=1

die() { echo "criu.sh: $*" >&2; exit 1; }

# Debian architecture -> multiarch triplet and dynamic loader (arm64 not tried yet).
arch=$(dpkg --print-architecture)
case "$arch" in
  amd64) triplet=x86_64-linux-gnu; loader=ld-linux-x86-64.so.2 ;;
  arm64) triplet=aarch64-linux-gnu; loader=ld-linux-aarch64.so.1 ;;
  *) die "no CRIU set-up for architecture $arch" ;;
esac

stamp="$prefix/.installed"

# "Version: 4.2.1" from `criu --version`, empty if it does not run.
criu_version() { "$1" --version 2>/dev/null | sed -n 's/^Version: *//p'; }

version_ok() { [[ -n $1 ]] && dpkg --compare-versions "$1" ge "$CRIU_MIN"; }

# The stamp says what was unpacked; the wrapper answering --version proves it still runs.
installed() {
  local v
  [[ -x $prefix/criu && -f $stamp ]] || return 1
  v=$(criu_version "$prefix/criu")
  version_ok "$v" && [[ "$(cat "$stamp")" == "$SUITE criu $v $arch" ]]
}

write_apt_config() {
  mkdir -p "$aptdir"/{state/lists/partial,cache/archives/partial,etc/sources.list.d} \
    "$aptdir"/etc/{preferences.d,apt.conf.d} "$aptdir/debs"
  touch "$aptdir/state/status"
  echo "deb [signed-by=$KEYRING] $MIRROR $SUITE main" >"$aptdir/etc/sources.list"
  # An empty dpkg status: apt must not see (or plan around) the system's installed packages.
  # Check-Valid-Until off: a mirror that serves a frozen snapshot has testing's Release file
  # past its (one week) expiry date. The signatures are still checked.
  cat >"$aptdir/apt.conf" <<EOF
Dir::State "$aptdir/state";
Dir::State::status "$aptdir/state/status";
Dir::Cache "$aptdir/cache";
Dir::Etc::SourceList "$aptdir/etc/sources.list";
Dir::Etc::SourceParts "$aptdir/etc/sources.list.d";
Dir::Etc::Preferences "$aptdir/etc/preferences";
Dir::Etc::PreferencesParts "$aptdir/etc/preferences.d";
Dir::Etc::Parts "$aptdir/etc/apt.conf.d";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
EOF
}

# criu, libcriu2 and the libraries they need, recursively, libc6 included: the new criu must
# not fall back to the system's older libraries. Non-library dependencies (criu's Recommends,
# debconf and the like) are left out: nothing here runs maintainer scripts.
package_closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances criu libcriu2 libcompel1 |
    grep -E '^(criu|lib[a-z0-9.+-]+)$' | sort -u
}

fetch_debs() {
  local pkgs have
  export APT_CONFIG="$aptdir/apt.conf"
  apt-get update -qq || die "apt-get update for $SUITE failed"
  have=$(apt-cache show --no-all-versions criu | sed -n 's/^Version: //p')
  version_ok "${have%-*}" || die "$SUITE has criu ${have:-none}, older than $CRIU_MIN"
  mapfile -t pkgs < <(package_closure)
  ((${#pkgs[@]} > 3)) || die "could not resolve criu's dependencies"
  rm -f "$aptdir"/debs/*.deb
  (cd "$aptdir/debs" && apt-get download -qq "${pkgs[@]}") || die "apt-get download failed"
  unset APT_CONFIG
}

unpack() {
  local stage=$1 deb
  rm -rf "$stage"
  mkdir -p "$stage"
  for deb in "$aptdir"/debs/*.deb; do
    dpkg -x "$deb" "$stage" || die "dpkg -x $deb failed"
  done
  [[ -e $stage/usr/lib/$triplet/$loader ]] || die "no $loader in the unpacked libc6"
}

# The wrapper finds its prefix at run time so that the tree can move with the repository, and
# without forking (readlink and dirname would add ~8 ms to every dump and restore). It execs,
# keeping every fd: libcriu starts it as `criu swrk <fd>` with the RPC socket as <fd>.
# --library-path applies to criu only; whatever criu itself execs sees the system's libraries.
# XDG_RUNTIME_DIR is where CRIU run with --unprivileged (as a8 runs it) caches its probes of the
# kernel (src/checkpoint/criu_driver.ts): a directory on a tmpfs (emptied at boot, as the cache
# must be), which only root may write. One that exists but is not root's is not used.
write_wrapper() {
  local stage=$1
  cat >"$stage/criu.tmp" <<EOF
#!/bin/sh
# Runs Debian $SUITE's criu with $SUITE's own loader and libraries (written by scripts/criu.sh).
self=\$0
[ -L "\$self" ] && self=\$(readlink -f "\$self")
case \$self in */*) p=\${self%/*} ;; *) p=. ;; esac
kdat=/dev/shm/a8-criu
[ -d \$kdat ] || mkdir -m 700 \$kdat 2>/dev/null
if [ -d \$kdat ] && [ ! -L \$kdat ] && [ -O \$kdat ]; then
	export XDG_RUNTIME_DIR=\$kdat
else
	unset XDG_RUNTIME_DIR	# not a directory of another user's choosing
fi
exec "\$p/usr/lib/$triplet/$loader" --library-path "\$p/usr/lib/$triplet:\$p/lib/$triplet" \\
	"\$p/usr/sbin/criu" "\$@"
EOF
  chmod 755 "$stage/criu.tmp"
  mv "$stage/criu.tmp" "$stage/criu"
}

verify() {
  local stage=$1 missing
  missing=$("$stage/usr/lib/$triplet/$loader" --library-path "$stage/usr/lib/$triplet" \
    --list "$stage/usr/sbin/criu" | grep 'not found' || true)
  [[ -z $missing ]] || die "criu misses libraries: $missing"
  version_ok "$(criu_version "$stage/criu")" ||
    die "the unpacked criu does not run: $("$stage/criu" --version 2>&1 | tail -1)"
  [[ -e $stage/usr/lib/$triplet/libcriu.so.2 ]] || die "libcriu.so.2 missing from libcriu2"
}

if ((!force)) && installed; then
  write_wrapper "$prefix" # cheap, and picks up changes to the wrapper
  echo "setup: criu $(criu_version "$prefix/criu") at .tools/criu/criu"
  exit 0
fi
((EUID == 0)) || die "must run as root (apt downloads)"
[[ -r $KEYRING ]] || die "$KEYRING missing: install debian-archive-keyring"

echo "setup: installing criu >= $CRIU_MIN from Debian $SUITE into .tools/criu (private apt)"
write_apt_config
fetch_debs
stage="$prefix.new"
unpack "$stage"
write_wrapper "$stage"
verify "$stage"
echo "$SUITE criu $(criu_version "$stage/criu") $arch" >"$stage/.installed"
rm -rf "$prefix"
mv "$stage" "$prefix"
# ~150 MB of package lists and caches; a reinstall fetches them again in seconds.
rm -rf "$aptdir"
echo "setup: criu $(criu_version "$prefix/criu") at .tools/criu/criu"
