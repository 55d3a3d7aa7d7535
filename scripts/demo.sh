#!/usr/bin/env bash
# a8's demo (`make demo`, after `make build`). Two acts, each with two variants, each variant on
# its own "host" (a network namespace made by scripts/netns.sh):
#   1. lighttpd under a8 serves a generated docroot; curl fetches 200 files and checks every
#      byte, wrk adds a few seconds of load; SIGTERM to the leader's agent ends the run on both
#      hosts; then each variant's summary.json says what its monitor saw.
#   2. tests' `diverge` program prints something different on each variant: a8 stops both
#      before the differing write and writes a divergence report.
#   3. survival: a deliberately vulnerable server (tests/servers/vuln_server.c) with checkpoints
#      on; an attacker sends a format-string request while a benign client keeps requesting.
#      The attack makes the variants write different bytes: a8 detects it, rolls both back to
#      the last checkpoint, replays, drops the attack's connection and goes on serving.
# Needs root. Leaves nothing behind: namespaces, processes and temp files go on exit.
# Exit status: 0 when everything behaved as described, 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
isa=$(uname -m)
deno="$root/.tools/deno"
prefix=a8demo               # namespaces a8demoh1, a8demoh2 and the bridge a8demobr
ns1="${prefix}h1"
ns2="${prefix}h2"
addr1=10.88.0.1
addr2=10.88.0.2
http_port=8080
requests=200                # curl requests in all
clients=4                   # curl processes fetching in parallel
wrk_seconds=3

tmp=""
agents=()                   # pids of the a8 agents this script started

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }

# Stops what this script started: its agents (SIGTERM, by pid: the orderly way, which stops
# their programs too), then whatever still runs inside its namespaces (only this script puts
# processes there), then the namespaces and the temp files.
cleanup() {
  local pid ns left t
  for pid in "${agents[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for t in $(seq 1 50); do
    left=0
    for pid in "${agents[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    ((left)) || break
    sleep 0.1
  done
  for ns in "$ns1" "$ns2"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  { wait; } 2>/dev/null || true
  agents=()
  "$root/scripts/netns.sh" down "$prefix" >/dev/null 2>&1 || true
  [[ -n $tmp && -d $tmp ]] && rm -rf "$tmp"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints why, the end of every log the demo kept, and exits 1.
fail() {
  printf '\ndemo FAILED: %s\n' "$*" >&2
  local f
  for f in "$tmp"/*.log; do
    [[ -s $f ]] || continue
    say "--- $(basename "$f") (last lines)" >&2
    tail -n 15 "$f" >&2
  done
  exit 1
}

# Milliseconds since the epoch (for timing waits).
now_ms() { date +%s%3N; }

# --- preconditions -------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || { say "demo: run as root (it makes network namespaces)" >&2; exit 1; }
for f in "$deno" "build/$isa/liba8.so" "build/$isa/scenarios/diverge" "build/$isa/vuln_server" \
  /usr/sbin/lighttpd /usr/bin/curl /usr/bin/wrk; do
  [[ -x $f || -f $f ]] || { say "demo: $f is missing: run 'make build' first" >&2; exit 1; }
done

cleanup                     # what an interrupted earlier demo may have left
tmp=$(mktemp -d /tmp/a8-demo.XXXXXX)
chmod 755 "$tmp"

say "a8 demo: lighttpd as two variants, each on its own host (a network namespace)"
doctor_rc=0
./a8 doctor >"$tmp/doctor.txt" 2>&1 || doctor_rc=$?
say "host: $(tail -n 1 "$tmp/doctor.txt")"
((doctor_rc == 0)) || { cat "$tmp/doctor.txt" >&2; fail "this host cannot run a8 (see ./a8 doctor)"; }

# --- hosts and config ----------------------------------------------------------------------
"$root/scripts/netns.sh" up 2 "$prefix" >"$tmp/netns.log" 2>&1 || fail "cannot make the namespaces"

# The default config (config/default.toml, the same text as the built-in default) with each
# variant's address moved to its namespace; everything else as shipped.
awk -v a1="$addr1" -v a2="$addr2" '
  /^address = / { n++; sub(/"[^"]*"/, "\"" (n == 1 ? a1 : a2) "\"") }
  { print }' config/default.toml >"$tmp/a8.toml"
[[ $(grep -c "^address = \"10\.88\.0\.[12]\"" "$tmp/a8.toml") -eq 2 ]] ||
  fail "config/default.toml does not have the two [[variants]] the demo expects"
say "hosts: $ns1 = $addr1 (variant 1, leader), $ns2 = $addr2 (variant 2, follower)"
policy=$(sed -n 's/^policy = "\([a-z]*\)".*/\1/p' "$tmp/a8.toml")
say "config: config/default.toml with those addresses (policy \"$policy\")"

# Starts `a8 run --id ID` in namespace NS, output to $tmp/NAME-vID.log; sets $started.
# `ip netns exec` and ./a8 both exec in place, so the pid is the agent's own.
start_variant() {
  local name=$1 id=$2 ns=$3
  shift 3
  ip netns exec "$ns" "$root/a8" run --id "$id" --report-dir "$tmp/$name-report-$id" \
    "$tmp/a8.toml" -- "$@" >"$tmp/$name-v$id.out" 2>"$tmp/$name-v$id.log" &
  started=$!
  agents+=("$started")
}

# Waits at most SECONDS for pid PID (a child of this shell); sets $status to its exit status,
# or to "timeout" if it is still running then.
wait_status() {
  local pid=$1 limit=$(($2 * 1000)) t0
  t0=$(now_ms)
  while kill -0 "$pid" 2>/dev/null; do
    if (($(now_ms) - t0 > limit)); then
      status=timeout
      return
    fi
    sleep 0.05
  done
  status=0
  wait "$pid" || status=$?
}

# Prints one line per variant from summary.json: role, outcome, exit status and the counters.
summaries() {
  "$deno" eval '
    const rows = [];
    for (const dir of Deno.args) {
      const s = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
      rows.push([
        s.variant, s.leader ? "leader" : "follower", s.outcome, s.exit_status ?? "-",
        s.streams.length, s.calls_seen, s.calls_checked, s.calls_replicated, s.calls_local,
        s.divergences, s.signals, s.bytes_sent, s.bytes_received,
      ].map(String));
    }
    const head = ["variant", "role", "outcome", "exit", "processes", "calls seen", "checked",
      "replicated", "local", "divergences", "signals", "bytes sent", "bytes received"];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [head, ...rows]) {
      console.log("  " + r.map((x, i) => i < 3 ? x.padEnd(w[i]) : x.padStart(w[i])).join("  "));
    }
  ' "$@"
}

# --- act 1: lighttpd -----------------------------------------------------------------------
step "act 1: lighttpd serving under a8, 2 variants, policy \"$policy\""

docroot="$tmp/docroot"
mkdir -p "$docroot/files" "$docroot/dir"
printf '<html><body><h1>a8 demo</h1></body></html>\n' >"$docroot/index.html"
{
  printf '<html><head><title>a8</title></head><body>\n'
  for i in $(seq 1 40); do printf '<p>line %d of a small page served by two variants</p>\n' "$i"; done
  printf '</body></html>\n'
} >"$docroot/small.html"
head -c $((64 * 1024)) /dev/urandom >"$docroot/files/64k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$docroot/files/1m.bin"
printf 'file a\n' >"$docroot/dir/a.txt"
printf 'file b\n' >"$docroot/dir/b.txt"
# What the clients ask for: URL path and the file its body must equal ("-": a 404, no file).
paths=(/ /small.html /files/64k.bin /files/1m.bin /dir/a.txt /dir/b.txt /small.html /missing.html)
files=(index.html small.html files/64k.bin files/1m.bin dir/a.txt dir/b.txt small.html -)

mkdir -p "$tmp/www"
cat >"$tmp/lighttpd.conf" <<EOF
server.document-root = "$docroot"
server.bind          = "$addr1"
server.port          = $http_port
server.pid-file      = "$tmp/www/lighttpd.pid"
server.errorlog      = "$tmp/www/error.log"
server.modules      += ( "mod_accesslog" )
accesslog.filename   = "$tmp/www/access.log"
index-file.names     = ( "index.html" )
mimetype.assign      = ( ".html" => "text/html", ".txt" => "text/plain",
                         ".bin" => "application/octet-stream" )
EOF
# Both variants read the same file: the namespaces share this machine's file system, and the
# server binds the leader's address (a follower's sockets are placeholders, not real sockets).
lighttpd_argv=(/usr/sbin/lighttpd -D -f "$tmp/lighttpd.conf")
url="http://$addr1:$http_port"

t_start=$(now_ms)
start_variant http 1 "$ns1" "${lighttpd_argv[@]}"
leader=$started
start_variant http 2 "$ns2" "${lighttpd_argv[@]}"
follower=$started
say "  started: a8 run --id 1 (in $ns1) and a8 run --id 2 (in $ns2), each -- ${lighttpd_argv[*]}"

# Ready when the leader's address answers HTTP; give up after 20 s or when an agent exits.
ready=0
for _ in $(seq 1 200); do
  if ip netns exec "$ns1" curl -s -o /dev/null --max-time 2 "$url/" 2>/dev/null; then
    ready=1
    break
  fi
  kill -0 "$leader" 2>/dev/null || fail "the leader's agent exited before lighttpd answered"
  kill -0 "$follower" 2>/dev/null || fail "the follower's agent exited before lighttpd answered"
  sleep 0.1
done
((ready)) || fail "nothing answered at $url within 20 s"
say "  lighttpd answers at $url after $(( ($(now_ms) - t_start) )) ms"

# $clients curl processes in parallel, each with one keep-alive connection where it can.
per_client=$((requests / clients))
mkdir -p "$tmp/got"
for c in $(seq 1 "$clients"); do
  : >"$tmp/got/c$c.curlrc"
  for j in $(seq 1 "$per_client"); do
    k=$(( (c * per_client + j) % ${#paths[@]} ))
    printf 'url = "%s%s"\noutput = "%s/got/c%d-%d"\n' "$url" "${paths[$k]}" "$tmp" "$c" "$j" \
      >>"$tmp/got/c$c.curlrc"
  done
done
pids=()
for c in $(seq 1 "$clients"); do
  ip netns exec "$ns1" curl -s --max-time 20 -w '%{http_code}\n' -K "$tmp/got/c$c.curlrc" \
    >"$tmp/got/c$c.codes" 2>"$tmp/curl-c$c.log" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done

# Every answer against what it should be: the status, and the body byte for byte.
ok=0 bad=0 n200=0 n404=0 first_bad=""
for c in $(seq 1 "$clients"); do
  mapfile -t codes <"$tmp/got/c$c.codes"
  for j in $(seq 1 "$per_client"); do
    k=$(( (c * per_client + j) % ${#paths[@]} ))
    code=${codes[$((j - 1))]:-none}
    if [[ ${files[$k]} == - ]]; then
      [[ $code == 404 ]] && { ok=$((ok + 1)); n404=$((n404 + 1)); continue; }
    elif [[ $code == 200 ]] && cmp -s "$tmp/got/c$c-$j" "$docroot/${files[$k]}"; then
      ok=$((ok + 1)); n200=$((n200 + 1)); continue
    fi
    bad=$((bad + 1))
    [[ -n $first_bad ]] || first_bad="GET ${paths[$k]}: status $code"
  done
done
total=$((clients * per_client))
say "  curl: $total requests from $clients clients: $ok answered as expected, $bad wrong"
say "        ($n200 x 200 with the file's exact bytes, $n404 x 404 for a missing file)"
((bad == 0)) || fail "$bad of $total responses were wrong (first: $first_bad)"

# A few seconds of load from wrk (a check that the pair keeps up, not a benchmark).
wrk_out=$(ip netns exec "$ns1" wrk -t1 -c4 -d"${wrk_seconds}s" --timeout 2s "$url/small.html" 2>&1) ||
  fail "wrk failed: $wrk_out"
wrk_requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$wrk_out")
wrk_errors=$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1+\2+\3+\4/p' <<<"$wrk_out")
wrk_non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' <<<"$wrk_out")
say "  wrk: ${wrk_requests:-0} requests for /small.html in ${wrk_seconds} s over 4 connections," \
  "socket errors: $((${wrk_errors:-0})), non-2xx: ${wrk_non2xx:-0}"
((${wrk_requests:-0} > 0 && ${wrk_non2xx:-0} == 0)) || fail "wrk did not get clean answers: $wrk_out"
for p in "$leader" "$follower"; do
  kill -0 "$p" 2>/dev/null || fail "an agent exited during the load"
done

say "  stopping: SIGTERM to the leader's agent (the follower stops by itself)"
t_stop=$(now_ms)
kill -TERM "$leader"
wait_status "$leader" 20
st1=$status
wait_status "$follower" 20
st2=$status
say "  variant 1 exited with $st1, variant 2 with $st2, $(( $(now_ms) - t_stop )) ms after the signal"
[[ $st1 != timeout && $st2 != timeout ]] || fail "a variant did not stop within 20 s of SIGTERM"
[[ $st1 == "$st2" ]] || fail "the variants ended with different statuses ($st1, $st2)"
[[ $st1 -lt 64 ]] || fail "the run ended with a8's status $st1 (see src/cli/exit_codes.ts)"
agents=()
# lighttpd buffers its access log and writes it out as it stops.
served=$(wc -l <"$tmp/www/access.log" 2>/dev/null || echo 0)
say "  the leader's lighttpd logged $served requests (readiness probe, curl and wrk); the"
say "  follower's log writes were checked, then left to the leader (files outside local_paths)"

say ""
say "  what each variant's monitor saw (summary.json of each --report-dir):"
summaries "$tmp/http-report-1" "$tmp/http-report-2" || fail "cannot read the summaries"
for id in 1 2; do
  grep -q '"outcome": "ok"' "$tmp/http-report-$id/summary.json" ||
    fail "variant $id's summary.json does not say outcome ok"
  [[ -e $tmp/http-report-$id/divergence.json ]] && fail "variant $id wrote a divergence report"
done
say "  checked: streamed calls, their canonical arguments compared between the variants;"
say "  replicated: calls only the leader ran, the follower took its results; local: each ran its own"

# --- act 2: a divergence -------------------------------------------------------------------
step "act 2: a program that behaves differently on each variant"
say "  build/$isa/scenarios/diverge prints its DIVERGE_TAG; each variant gets another tag"

t_start=$(now_ms)
DIVERGE_TAG=variant-1 start_variant diverge 1 "$ns1" "build/$isa/scenarios/diverge"
d1=$started
DIVERGE_TAG=variant-2 start_variant diverge 2 "$ns2" "build/$isa/scenarios/diverge"
d2=$started
wait_status "$d1" 30
st1=$status
wait_status "$d2" 30
st2=$status
agents=()
say "  variant 1 exited with $st1, variant 2 with $st2 (86: divergence), after $(( $(now_ms) - t_start )) ms"
[[ $st1 == 86 && $st2 == 86 ]] || fail "want exit status 86 on both variants, got $st1 and $st2"
for id in 1 2; do
  if grep -q "^tag: " "$tmp/diverge-v$id.out"; then
    fail "variant $id printed its tag: the differing write was not stopped"
  fi
done
say "  what the program printed on variant 1 (stdout is each variant's own):"
sed 's/^/    | /' "$tmp/diverge-v1.out"
say "  the leader's agent on stderr (first lines):"
grep -v '^a8 \(WARN\|INFO\|DEBUG\)' "$tmp/diverge-v1.log" | sed '/differs:/q' | head -n 12 |
  sed 's/^/    | /'
report="$tmp/diverge-report-1/divergence.json"
[[ -f $report ]] || fail "variant 1 wrote no divergence.json"
"$deno" eval '
  const r = JSON.parse(await Deno.readTextFile(Deno.args[0]));
  console.log(`  divergence.json: call ${r.call}, reason ${r.reason}, stream ${r.stream}, ` +
    `call #${r.seq}, found by variant ${r.detected_by}, differs: ${r.differs.join(", ")}`);
  // The text inside the canonical encoding of each variant: what it was about to write.
  for (const v of r.variants) {
    const bytes = (v.call?.blob_hex ?? "").match(/../g) ?? [];
    const text = String.fromCharCode(...bytes.map((h) => parseInt(h, 16)));
    const runs = text.match(/[\x20-\x7e\n]{4,}/g) ?? [];
    console.log(`    variant ${v.variant} was about to write ${JSON.stringify(runs.join(""))}`);
  }
  if (r.call !== "write") Deno.exit(1);
' "$report" || fail "the report does not name the write"
summaries "$tmp/diverge-report-1" "$tmp/diverge-report-2" || fail "cannot read the summaries"

# --- act 3: an attack survived -------------------------------------------------------------
step "act 3: an attack on a vulnerable server, survived (checkpoints, rollback, replay)"
# The same config with checkpoints on: [checkpoint] engine = "fork".
sed 's/^engine = "none"/engine = "fork"/' "$tmp/a8.toml" >"$tmp/a8-survive.toml"
grep -q '^engine = "fork"' "$tmp/a8-survive.toml" || fail "config/default.toml has no [checkpoint] engine"
cp "$tmp/a8-survive.toml" "$tmp/a8.toml"
vuln_port=8081
vuln_argv=("$root/build/$isa/vuln_server" -a "$addr1" -p "$vuln_port")
start_variant vuln 1 "$ns1" "${vuln_argv[@]}"
v1=$started
start_variant vuln 2 "$ns2" "${vuln_argv[@]}"
v2=$started
for _ in $(seq 1 200); do
  grep -q "^listening on" "$tmp/vuln-v1.out" 2>/dev/null && break
  kill -0 "$v1" 2>/dev/null || fail "the leader's agent exited before vuln_server listened"
  sleep 0.1
done
grep -q "^listening on" "$tmp/vuln-v1.out" || fail "vuln_server did not start under a8"
say "  vuln_server under a8 listens at $addr1:$vuln_port; checkpoints: fork engine"
client() { ip netns exec "$ns1" "$deno" run -A --quiet "$root/tests/e2e/http_client.ts" "$@"; }
# The benign client: 300 requests over 2 connections at a time, a little pause between;
# a request whose connection closed before any answer is sent again (as HTTP clients do).
client benign "$addr1" "$vuln_port" --count 300 --concurrency 2 --interval 5 --retry 3 \
  >"$tmp/benign.json" 2>"$tmp/benign.log" &
benign_pid=$!
sleep 0.5
attacks=()
for i in 1 2 3; do
  attacks+=("$(client attack "$addr1" "$vuln_port" 2>>"$tmp/attack.log")")
  sleep 0.3
done
wait "$benign_pid" || fail "the benign client failed: $(cat "$tmp/benign.log")"
kill -TERM "$v1"
wait_status "$v1" 20
wait_status "$v2" 20
agents=()
"$deno" eval '
  const benign = JSON.parse(await Deno.readTextFile(Deno.args[0]));
  const attacks = Deno.args.slice(3).map((a) => JSON.parse(a));
  const s = JSON.parse(await Deno.readTextFile(`${Deno.args[1]}/summary.json`));
  const f = JSON.parse(await Deno.readTextFile(`${Deno.args[2]}/summary.json`));
  const detected = s.rollback_log.filter((r) => r.mode === "retry" && r.reason === "args");
  console.log(`  the attack (GET /greet?name=%25p.%25p.%25p, 3 times): ` +
    attacks.map((a) => a.kind === "closed" ? "connection closed" : `answered ${a.status}`)
      .join(", "));
  for (const r of detected.slice(0, 1)) {
    console.log(`  detected: ${r.call} at call #${r.seq} (${r.reason}): ${r.detail}`);
  }
  console.log(`  rolled back ${s.rollbacks} times (each attack: a replay, where it diverged ` +
    `again, then a replay without its input); ${s.checkpoints} checkpoints taken`);
  console.log(`  checkpoint ${s.checkpoint_us.p50} us (median fork), rollback to serving ` +
    `${s.rollback_ms.p50} ms (median), ${s.rollback_ms.max} ms (max)`);
  console.log(`  benign client: ${benign.ok} of 300 answered right, ${benign.wrong} wrong, ` +
    `${benign.closed} lost, ${benign.retried} sent again after a closed connection`);
  const ok = attacks.every((a) => a.kind === "closed") && benign.ok === 300 &&
    benign.wrong === 0 && s.rollbacks >= 2 && f.rollbacks === s.rollbacks;
  if (!ok) Deno.exit(1);
' "$tmp/benign.json" "$tmp/vuln-report-1" "$tmp/vuln-report-2" "${attacks[@]}" ||
  fail "the attack was not survived as it should be"
say "  the attack's connection was closed; the benign client was served throughout"

step "demo OK"
