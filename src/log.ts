/**
 * Structured logs on stderr: one line per event, `a8 LEVEL v<variant> message key=value ...`,
 * or one JSON object per line with `--log-format json`. Quiet by default (warn and above).
 */
import type { LogLevel } from "./config/types.ts";

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** A logger whose lines carry these fields too (a peer id, a stream). */
  with(fields: LogFields): Logger;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  level: LogLevel;
  variant?: number;
  json?: boolean;
  /** Where lines go; stderr by default. Tests pass an array sink. */
  sink?: (line: string) => void;
}

const encoder = new TextEncoder();
const stderrSink = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

function quote(v: string | number | boolean): string {
  const s = String(v);
  return /^[\w.:/@+-]+$/.test(s) ? s : JSON.stringify(s);
}

export function createLogger(opts: LoggerOptions, bound: LogFields = {}): Logger {
  const sink = opts.sink ?? stderrSink;
  const emit = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    if (RANK[level] > RANK[opts.level]) return;
    const all: LogFields = { ...bound, ...fields };
    if (opts.json) {
      sink(JSON.stringify({ level, variant: opts.variant, msg, ...all }));
      return;
    }
    const kv = Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${quote(v as string | number | boolean)}`);
    const who = opts.variant === undefined ? "" : ` v${opts.variant}`;
    sink([`a8 ${level.toUpperCase()}${who}`, msg, ...kv].join(" "));
  };
  return {
    level: opts.level,
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
    with: (f) => createLogger(opts, { ...bound, ...f }),
  };
}
