/**
 * Maps config field paths (`key`, `timeouts.sync_ms`, `variants[1].port`) to the 1-based line
 * they sit on. The TOML parser returns plain values without positions, so semantic errors
 * would otherwise have no line to point the user at; a line-level scan of the text is enough
 * for the flat shape a8's config has.
 */

export interface LineIndex {
  /** The line of `path`, else of its nearest enclosing table, else 0 (unknown). */
  lineOf(path: string): number;
}

const HEADER = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/;
const KEY =
  /^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=/;

function unquote(part: string): string {
  const p = part.trim();
  return (p.startsWith('"') && p.endsWith('"')) || (p.startsWith("'") && p.endsWith("'"))
    ? p.slice(1, -1)
    : p;
}

function joinKey(dotted: string): string {
  return dotted.split(".").map(unquote).join(".");
}

export function indexLines(text: string): LineIndex {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  let table = "";
  // Inside a multi-line array or string, `x = ...` shaped lines are values, not keys.
  let openBrackets = 0;
  let inMultiline: string | null = null;

  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    if (inMultiline) {
      if (raw.includes(inMultiline)) inMultiline = null;
      return;
    }
    if (openBrackets > 0) {
      openBrackets += bracketDelta(raw);
      return;
    }
    const header = HEADER.exec(raw);
    if (header && !KEY.test(raw)) {
      const name = joinKey(header[2]);
      if (header[1] === "[[") {
        const n = arrayCounts.get(name) ?? 0;
        arrayCounts.set(name, n + 1);
        table = `${name}[${n}]`;
        if (!lines.has(name)) lines.set(name, lineNo);
      } else {
        table = name;
      }
      if (!lines.has(table)) lines.set(table, lineNo);
      return;
    }
    const key = KEY.exec(raw);
    if (!key) return;
    const path = table ? `${table}.${joinKey(key[1])}` : joinKey(key[1]);
    if (!lines.has(path)) lines.set(path, lineNo);
    const value = raw.slice(key[0].length);
    const triple = /("""|''')/.exec(value);
    if (triple && value.indexOf(triple[1], triple.index + 3) < 0) inMultiline = triple[1];
    else openBrackets = Math.max(0, bracketDelta(value));
  });

  return {
    lineOf(path: string): number {
      let p = path;
      for (;;) {
        const hit = lines.get(p);
        if (hit !== undefined) return hit;
        const parent = parentPath(p);
        if (parent === null) return 0;
        p = parent;
      }
    },
  };
}

/** `variants[1].port` -> `variants[1]` -> `variants` -> null. */
function parentPath(path: string): string | null {
  if (path.endsWith("]")) return path.slice(0, path.lastIndexOf("["));
  const dot = path.lastIndexOf(".");
  return dot < 0 ? null : path.slice(0, dot);
}

/** Net `[` minus `]` outside strings and comments: tells whether an array continues. */
function bracketDelta(s: string): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") break;
    else if (c === "[") depth++;
    else if (c === "]") depth--;
  }
  return depth;
}
