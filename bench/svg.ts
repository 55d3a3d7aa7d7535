/**
 * The benchmark's plot: one horizontal bar per figure, its ratio a8/native on a log scale,
 * drawn from the 1x line (right: a8 costs more or is slower to answer; left: less). Plain SVG,
 * no dependencies.
 */
// deno-lint-ignore no-explicit-any
type Json = any;

interface Bar {
  group: string;
  label: string;
  ratio: number;
  /** How to read it, shown after the value. */
  note: string;
}

function bars(r: Json): Bar[] {
  const out: Bar[] = [];
  for (const [name, c] of Object.entries(r.calls?.calls ?? {}) as [string, Json][]) {
    out.push({
      group: "per-call time (a8/native)",
      label: name,
      ratio: c.ratio,
      note: `${c.native_ns} → ${c.a8_ns} ns`,
    });
  }
  for (const [name, s] of Object.entries(r.servers ?? {}) as [string, Json][]) {
    if (!s?.native) continue;
    out.push({
      group: "server throughput (a8/native, < 1 is slower)",
      label: `${name} req/s`,
      ratio: s.throughput_ratio,
      note: `${s.native.requests_per_s} → ${s.a8.requests_per_s} req/s`,
    });
  }
  for (const [name, s] of Object.entries(r.servers ?? {}) as [string, Json][]) {
    if (!s?.native) continue;
    out.push({
      group: "CPU per request (a8/native)",
      label: `${name} leader`,
      ratio: s.cpu_per_req_ratio,
      note: `${s.native.cpu_us_per_req} → ${s.a8.cpu_us_per_req} µs`,
    });
    out.push({
      group: "CPU per request (a8/native)",
      label: `${name} all`,
      ratio: s.all_cpu_per_req_ratio,
      note: `${s.native.cpu_us_per_req} → ${s.a8.all_cpu_us_per_req} µs`,
    });
  }
  return out;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function renderSvg(r: Json): string {
  const all = bars(r);
  const ok = all.filter((b) => Number.isFinite(b.ratio) && b.ratio > 0);
  const lo = Math.min(0.1, ...ok.map((b) => b.ratio / 1.5));
  const hi = Math.max(10, ...ok.map((b) => b.ratio * 1.5));
  const lmin = Math.floor(Math.log10(lo));
  const lmax = Math.ceil(Math.log10(hi));

  const W = 980, left = 190, right = 250, top = 70, rowH = 24, groupH = 30;
  const plotW = W - left - right;
  const x = (v: number) =>
    Math.round((left + ((Math.log10(v) - lmin) / (lmax - lmin)) * plotW) * 10) / 10;
  const groups = [...new Set(all.map((b) => b.group))];
  const H = top + groups.length * groupH + all.length * rowH + 50;

  const el: string[] = [];
  const m = r.machine ?? {};
  el.push(
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">` +
      `a8 vs native (${r.settings?.variants ?? 2} variants, policy ${
        esc(String(r.settings?.policy ?? "?"))
      }, interposer ${esc(String(r.settings?.interposer ?? "?"))})</text>`,
    `<text x="${W / 2}" y="44" text-anchor="middle" font-size="11" fill="#555">${
      esc(
        `${r.date ?? ""}  ${m.cpu ?? ""}, ${m.cores ?? "?"} cores, Linux ${m.kernel ?? ""}` +
          `${r.quick ? "  (quick run)" : ""}`,
      )
    }</text>`,
  );
  // Grid: every power of ten, the 1x line stronger.
  const gridBottom = H - 40;
  for (let e = lmin; e <= lmax; e++) {
    const v = 10 ** e;
    const gx = x(v);
    el.push(
      `<line x1="${gx}" y1="${top - 8}" x2="${gx}" y2="${gridBottom}" stroke="${
        e === 0 ? "#000" : "#ddd"
      }" stroke-width="${e === 0 ? 1.5 : 1}"/>`,
      `<text x="${gx}" y="${gridBottom + 16}" text-anchor="middle" font-size="11">${
        v >= 1 ? v : v.toFixed(-e)
      }×</text>`,
    );
    for (let k = 2; k < 10 && e < lmax; k++) {
      const mx = x(k * v);
      el.push(
        `<line x1="${mx}" y1="${top - 8}" x2="${mx}" y2="${gridBottom}" stroke="#f2f2f2"/>`,
      );
    }
  }
  let y = top;
  for (const g of groups) {
    y += groupH;
    el.push(`<text x="10" y="${y - 8}" font-size="13" font-weight="bold">${esc(g)}</text>`);
    for (const b of all.filter((b) => b.group === g)) {
      const cy = y + rowH / 2;
      el.push(
        `<text x="${left - 8}" y="${cy + 4}" text-anchor="end" font-size="12">${
          esc(b.label)
        }</text>`,
      );
      if (Number.isFinite(b.ratio) && b.ratio > 0) {
        const x0 = x(1), x1 = x(b.ratio);
        const color = g.startsWith("server throughput")
          ? (b.ratio < 1 ? "#d62728" : "#2ca02c")
          : (b.ratio > 1 ? "#1f77b4" : "#2ca02c");
        el.push(
          `<rect x="${Math.min(x0, x1)}" y="${y + 4}" width="${
            Math.max(1, Math.abs(x1 - x0))
          }" height="${rowH - 8}" fill="${color}"/>`,
          `<text x="${W - right + 8}" y="${cy + 4}" font-size="12">${b.ratio.toFixed(2)}×  ` +
            `<tspan fill="#666" font-size="11">${esc(b.note)}</tspan></text>`,
        );
      } else {
        el.push(
          `<text x="${x(1) + 6}" y="${cy + 4}" font-size="12" fill="#d62728">not measured</text>`,
        );
      }
      y += rowH;
    }
  }
  el.push(
    `<text x="${left + plotW / 2}" y="${H - 6}" text-anchor="middle" font-size="11">` +
      `ratio a8/native (log scale)</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
    `viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n${el.join("\n")}\n</svg>\n`;
}
