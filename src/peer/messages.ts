/**
 * The control-plane messages agents exchange, and the one table that says which fields each
 * carries. A frame's JSON is trusted only after `validateMessage` has checked it against this
 * table: peers are other hosts, and a bug or an attacker there must not crash this agent.
 */

/** Bumped whenever a message's meaning or fields change. */
export const PROTOCOL_VERSION = 3;

/** Handshake messages, in the order they are exchanged (see handshake.ts). */
export interface HelloMsg {
  t: "hello";
  v: number;
  id: number;
  isa: string;
  nonce: string;
}
export interface AuthMsg {
  t: "auth";
  mac: string;
}
export interface AgreeMsg {
  t: "agree";
  digest: string;
  runId: string;
}
export interface ConfigMsg {
  t: "config";
  config: Record<string, unknown>;
}
export interface RefuseMsg {
  t: "refuse";
  reason: string;
}
export interface OkMsg {
  t: "ok";
}

/** Run-time messages, allowed only after the handshake. */
export interface HeartbeatMsg {
  t: "hb";
}
export interface StartMsg {
  t: "start";
  address: string;
  port: number;
}
export interface ExitMsg {
  t: "exit";
  status: number;
}
export interface DivergenceMsg {
  t: "divergence";
  variant: number;
  stream: string;
  reason: string;
  call: string;
  seq: number;
  detail: string;
  /** Rollbacks the sender had completed when it saw it: an older round's report is stale. */
  round: number;
}
export interface FatalMsg {
  t: "fatal";
  variant: number;
  reason: string;
  call: string;
}
export interface ReportDataMsg {
  t: "report-data";
  variant: number;
  streams: unknown[];
}
export interface StopMsg {
  t: "stop";
  signal: string;
}
export interface ByeMsg {
  t: "bye";
}
/** Leader's agent: every variant goes back to checkpoint `epoch` (see checkpoint/rollback.ts). */
export interface RollbackMsg {
  t: "rollback";
  epoch: number;
  /** 0: replay up to the divergence (a retry); 1: also drop the input read before it. */
  mode: number;
  stream: string;
  seq: number;
  /** The divergent call, for the followers' reports. */
  call: string;
  /** The leader's ports when it knows them before it is back (fork: its copy's); else later. */
  ports?: Ports;
  /** The run is stopping: the restored variants inject no more faults (`[faults]`). */
  quiet?: boolean;
}
/**
 * Leader's agent, once its variant is back (the followers restore theirs meanwhile): where each
 * of its processes (by stream) listens for the followers' data connections, the root only with
 * the fork engine, the whole tree with CRIU.
 */
export interface RollbackPortsMsg {
  t: "rollback-ports";
  ports: Ports;
}
/** Stream id ("0", "0.1", ...) to a TCP port. */
export type Ports = Record<string, number>;
/**
 * Leader's agent, criu engine: its variant's tree is dumped at `epoch`. A follower may have
 * dumped newer epochs the leader then gave up on; it keeps every image from this one on.
 */
export interface CheckpointedMsg {
  t: "checkpointed";
  epoch: number;
}
/** A follower's monitor is back and connected. */
export interface RolledBackMsg {
  t: "rolled-back";
  variant: number;
  /** How many rollbacks the sender has completed, this one included. */
  round: number;
}
/** Leader's agent: the divergence cannot be rolled back; the run ends with its report. */
export interface NoRollbackMsg {
  t: "no-rollback";
  reason: string;
}

export type HandshakeMsg = HelloMsg | AuthMsg | AgreeMsg | ConfigMsg | RefuseMsg | OkMsg;
export type RunMsg =
  | HeartbeatMsg
  | StartMsg
  | ExitMsg
  | DivergenceMsg
  | FatalMsg
  | ReportDataMsg
  | StopMsg
  | ByeMsg
  | RollbackMsg
  | RollbackPortsMsg
  | CheckpointedMsg
  | RolledBackMsg
  | NoRollbackMsg;
export type PeerMsg = HandshakeMsg | RunMsg;
export type MsgType = PeerMsg["t"];

type FieldKind =
  | "int"
  | "uint16"
  | "string"
  | "hex"
  | "object"
  | "array"
  | "ports"
  | "ports?"
  | "bool?";

/** One row per message type: field name -> kind. Adding a message is adding a row. */
const FIELDS: Record<MsgType, Record<string, FieldKind>> = {
  hello: { v: "int", id: "int", isa: "string", nonce: "hex" },
  auth: { mac: "hex" },
  agree: { digest: "hex", runId: "hex" },
  config: { config: "object" },
  refuse: { reason: "string" },
  ok: {},
  hb: {},
  start: { address: "string", port: "uint16" },
  exit: { status: "int" },
  divergence: {
    variant: "int",
    stream: "string",
    reason: "string",
    call: "string",
    seq: "int",
    detail: "string",
    round: "int",
  },
  fatal: { variant: "int", reason: "string", call: "string" },
  "report-data": { variant: "int", streams: "array" },
  stop: { signal: "string" },
  bye: {},
  rollback: {
    epoch: "int",
    mode: "int",
    stream: "string",
    seq: "int",
    call: "string",
    ports: "ports?",
    quiet: "bool?",
  },
  "rollback-ports": { ports: "ports" },
  checkpointed: { epoch: "int" },
  "rolled-back": { variant: "int", round: "int" },
  "no-rollback": { reason: "string" },
};

const HANDSHAKE_TYPES: ReadonlySet<string> = new Set([
  "hello",
  "auth",
  "agree",
  "config",
  "refuse",
  "ok",
]);

export function isHandshakeType(t: MsgType): boolean {
  return HANDSHAKE_TYPES.has(t);
}

/** Longest string field accepted; frames are already capped at 1 MiB, this keeps logs sane. */
const MAX_STRING = 64 * 1024;
/** A process tree's streams in one message: more is a hostile peer, not a program. */
const MAX_STREAMS = 4096;
const STREAM_ID = /^0(\.[0-9]{1,9}){0,64}$/;

function portsOk(v: unknown): boolean {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const entries = Object.entries(v);
  return entries.length <= MAX_STREAMS &&
    entries.every(([k, p]) => STREAM_ID.test(k) && fieldOk("uint16", p));
}

function fieldOk(kind: FieldKind, v: unknown): boolean {
  switch (kind) {
    case "int":
      return Number.isSafeInteger(v);
    case "uint16":
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535;
    case "string":
      return typeof v === "string" && v.length <= MAX_STRING;
    case "hex":
      return typeof v === "string" && v.length <= 256 && /^[0-9a-f]*$/.test(v);
    case "object":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    case "ports":
      return portsOk(v);
    case "ports?":
      return v === undefined || portsOk(v);
    case "bool?":
      return v === undefined || typeof v === "boolean";
  }
}

export type Validated = { ok: true; msg: PeerMsg } | { ok: false; problem: string };

/** Checks a parsed JSON value against the table; the problem names the type and field. */
export function validateMessage(value: unknown): Validated {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, problem: "message is not a JSON object" };
  }
  const rec = value as Record<string, unknown>;
  const t = rec.t;
  if (typeof t !== "string") return { ok: false, problem: "message has no string field t" };
  if (!Object.hasOwn(FIELDS, t)) {
    return { ok: false, problem: `unknown message type ${JSON.stringify(t.slice(0, 40))}` };
  }
  for (const [name, kind] of Object.entries(FIELDS[t as MsgType])) {
    if (!fieldOk(kind, rec[name])) {
      return { ok: false, problem: `message ${t}: field ${name} missing or not ${kind}` };
    }
  }
  return { ok: true, msg: rec as unknown as PeerMsg };
}
