/**
 * The default config as a string, so a compiled `a8` binary carries it (config/default.toml is
 * the same text; a test keeps the two equal).
 */
export const DEFAULT_CONFIG_PATH = "(built-in default config)";

export const DEFAULT_CONFIG_TOML =
  `# a8's default config: two variants on this machine (useful for "make demo" and a first try).
# For several hosts, copy this file to every host, give each variant its host's address, and
# start "a8 run --id N" on each host with the same file.

leader_id = 1

# Shared secret the agents authenticate each other with (>= 16 characters).
# CHANGE IT before running on a network: this demo key is public.
key = "a8-demo-key-change-me-before-use"

policy = "outputs"     # lockstep | outputs | code (see README, Policies)
interposer = "auto"    # auto | sud | seccomp
batch_bytes = 65536    # 4096..16777216
spin_reads = 0         # retries before a monitor sleeps for its peer (see README)

# Files under these prefixes are opened by each variant locally instead of by the leader.
local_paths = [
  "/usr/lib/",
  "/lib/",
  "/lib64/",
  "/usr/lib64/",
  "/usr/libexec/",
  "/etc/ld.so.cache",
  "/dev/null",
  "/proc/self/maps",
]

[[variants]]
id = 1
address = "127.0.0.1"
port = 7772

[[variants]]
id = 2
address = "127.0.0.1"
port = 7773

[timeouts]             # milliseconds
connect_ms = 10000
heartbeat_ms = 500
peer_silence_ms = 5000
sync_ms = 30000
shutdown_ms = 10000

[log]
level = "warn"         # error | warn | info | debug

# Checkpoints let the variants roll back after a divergence and keep serving (see README).
[checkpoint]
engine = "none"        # none | fork | criu
every_calls = 5000     # a checkpoint once this many checked calls
every_ms = 200         # or this many ms have passed, when the program is about to wait
retries = 1            # 0..10 replays of a repeating divergence before its connection is dropped

# Deliberate divergences, for measurements and tests: keep 0 in production.
[faults]
divergence_probability = 0.0   # per checked call, 0..1
seed = 0
`;
