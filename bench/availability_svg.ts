/**
 * The availability benchmark's plot (bench/availability.ts): throughput under a8 as a ratio to
 * native (log scale), against the injected divergence rate (categorical axis: the rates are 0
 * and powers apart); one line per server and checkpoint engine (fork solid, criu dashed), a8
 * without checkpoints as a dotted line; the targets of issue 4 as marks; rollbacks and their
 * times under each rate; CRIU's own figures below. Plain SVG.
 */
// deno-lint-ignore no-explicit-any
type Json = any;

const COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b"];
const DASH: Record<string, string> = { fork: "", criu: "7 4" };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function pct(r: number): string {
  return r === 0 ? "0" : `${Math.round(r * 10000) / 100} %`;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

function ratioText(v: number): string {
  return v === 0 ? "0" : v >= 0.1 ? v.toFixed(2) : v.toPrecision(2);
}

/** A point: a circle for fork, a square for criu. */
function marker(engine: string, cx: number, cy: number, color: string): string {
  return engine === "criu"
    ? `<rect x="${cx - 4}" y="${cy - 4}" width="8" height="8" fill="${color}"/>`
    : `<circle cx="${cx}" cy="${cy}" r="4" fill="${color}"/>`;
}

export function renderAvailabilitySvg(r: Json): string {
  const rounds: Json[] = r.rounds ?? [];
  const servers: string[] = [...new Set(rounds.map((x) => x.server as string))];
  const engines: string[] = ["fork", "criu"].filter((e) => rounds.some((x) => x.engine === e));
  const rates: number[] = [
    ...new Set(
      rounds.filter((x) => x.engine === "fork" || x.engine === "criu").map((x) => x.rate as number),
    ),
  ].sort((a, b) => a - b);
  const at = (s: string, e: string, rate: number) =>
    rounds.find((x) => x.server === s && x.engine === e && x.rate === rate);
  const baseline = (s: string) => rounds.find((x) => x.server === s && x.engine === "none");
  const series = servers.flatMap((s, k) => engines.map((e) => ({ s, e, color: COLORS[k] })));

  // Log scale: the ratios span decades once rollbacks start. A ratio of 0 (nothing served)
  // sits on its own line below the lowest decade.
  const ratios = rounds.map((x) => x.ratio).filter((v) => typeof v === "number" && v > 0);
  const lmin = Math.min(-3, Math.floor(Math.log10(Math.min(...ratios, 1))));
  const lmax = Math.max(0.3, Math.log10(Math.max(...ratios, 1) * 1.3));

  const W = 1000, left = 110, plotW = 560, top = 96, plotH = 340, zeroGap = 26;
  const legendX = left + plotW + 30;
  const rowsY = top + plotH + zeroGap + 68;
  const H = rowsY + series.length * 30 + 140;
  const x = (i: number) => r1(left + plotW * (rates.length > 1 ? (i + 0.5) / rates.length : 0.5));
  const y = (v: number) =>
    v <= 0
      ? top + plotH + zeroGap
      : r1(top + plotH - ((Math.min(Math.log10(v), lmax) - lmin) / (lmax - lmin)) * plotH);
  const el: string[] = [];
  const m = r.machine ?? {};
  const cp = r.settings?.checkpoint ?? {};
  const every = (e: string) =>
    cp[e] ? `${e}: every ${cp[e].every_calls} calls / ${cp[e].every_ms} ms` : "";

  el.push(
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">` +
      `Availability under injected divergences: a8 (2 variants, checkpoints) vs native</text>`,
    `<text x="${W / 2}" y="43" text-anchor="middle" font-size="11" fill="#555">${
      esc(
        `${r.date ?? ""}  ${m.cpu ?? ""}, ${m.cores ?? "?"} cores, Linux ${m.kernel ?? ""}` +
          `${r.quick ? "  (quick run)" : ""}`,
      )
    }</text>`,
    `<text x="${W / 2}" y="59" text-anchor="middle" font-size="11" fill="#555">${
      esc(
        `${r.settings?.wrk ?? ""}; rate: the chance per checked call that the follower diverges`,
      )
    }</text>`,
    `<text x="${W / 2}" y="74" text-anchor="middle" font-size="11" fill="#555">${
      esc(
        `checkpoints ${engines.map(every).filter((t) => t).join(", ")}, retries ${
          cp.retries ?? "?"
        }`,
      )
    }</text>`,
  );

  // Grid and y axis: every power of ten labelled, 2x and 5x lighter.
  for (let e = lmin; e <= Math.floor(lmax); e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (Math.log10(v) > lmax) continue;
      const gy = y(v);
      el.push(
        `<line x1="${left}" y1="${gy}" x2="${left + plotW}" y2="${gy}" stroke="${
          k === 1 ? "#ccc" : "#f0f0f0"
        }"/>`,
        `<text x="${left - 6}" y="${gy + 4}" text-anchor="end" font-size="${
          k === 1 ? 11 : 9
        }" fill="${k === 1 ? "#000" : "#888"}">${v >= 1 ? v : v.toFixed(Math.max(0, -e))}×</text>`,
      );
    }
  }
  const zy = y(0);
  el.push(
    `<line x1="${left}" y1="${zy}" x2="${left + plotW}" y2="${zy}" stroke="#ccc" ` +
      `stroke-dasharray="2 3"/>`,
    `<text x="${left - 6}" y="${zy + 4}" text-anchor="end" font-size="11">0</text>`,
    `<text x="${left + 4}" y="${zy - 4}" font-size="9" fill="#888">nothing served</text>`,
    `<line x1="${left}" y1="${y(1)}" x2="${left + plotW}" y2="${y(1)}" stroke="#000" ` +
      `stroke-width="1.5"/>`,
    `<text x="${left + plotW - 4}" y="${y(1) - 5}" text-anchor="end" font-size="11">native</text>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${zy + 8}" stroke="#000"/>`,
    `<line x1="${left}" y1="${zy + 8}" x2="${left + plotW}" y2="${zy + 8}" stroke="#000"/>`,
    `<text x="${left - 52}" y="${top + plotH / 2}" font-size="12" text-anchor="middle" ` +
      `transform="rotate(-90 ${left - 52} ${top + plotH / 2})">requests/s, ratio to native ` +
      `(log scale)</text>`,
  );
  rates.forEach((rate, i) => {
    el.push(
      `<text x="${x(i)}" y="${zy + 24}" text-anchor="middle" font-size="12">` +
        `${esc(pct(rate))}</text>`,
    );
  });
  el.push(
    `<text x="${left + plotW / 2}" y="${zy + 42}" text-anchor="middle" font-size="12">` +
      `injected divergence rate (per checked call)</text>`,
  );

  // Targets of issue 4.
  const targets: [number, number][] = [
    [0.01, r.targets?.ratio_at_1pct ?? 0.5],
    [0.05, r.targets?.ratio_at_5pct ?? 0.2],
  ];
  for (const [rate, min] of targets) {
    const i = rates.indexOf(rate);
    if (i < 0) continue;
    const tx = x(i), ty = y(min);
    el.push(
      `<line x1="${tx - 30}" y1="${ty}" x2="${tx + 30}" y2="${ty}" stroke="#ff7f0e" ` +
        `stroke-width="3"/>`,
      `<text x="${tx + 34}" y="${ty + 4}" font-size="11" fill="#ff7f0e">target ≥${min}×</text>`,
    );
  }

  // a8 without checkpoints: dotted, one per server.
  servers.forEach((s, k) => {
    const b = baseline(s);
    if (b && typeof b.ratio === "number" && b.ratio > 0) {
      el.push(
        `<line x1="${left}" y1="${y(b.ratio)}" x2="${left + plotW}" y2="${y(b.ratio)}" ` +
          `stroke="${COLORS[k]}" stroke-dasharray="1 3" stroke-width="1.5"/>`,
      );
    }
  });

  // One line per server and engine; it breaks where a8 stopped (no figure there).
  series.forEach(({ s, e, color }, n) => {
    const segments: string[][] = [[]];
    rates.forEach((rate, i) => {
      const p = at(s, e, rate);
      if (!p || p.stopped || typeof p.ratio !== "number") {
        if (segments[segments.length - 1].length) segments.push([]);
        if (!p) return;
        // An × on the zero line, side by side per series; the table below says which.
        const sx = x(i) - 24 + n * 16;
        el.push(
          `<text x="${sx}" y="${zy + 5}" text-anchor="middle" font-size="14" fill="${color}" ` +
            `font-weight="bold">×</text>`,
        );
        return;
      }
      segments[segments.length - 1].push(`${x(i)},${y(p.ratio)}`);
      // Labels: fork's to the right of its point, criu's to the left.
      const left = e === "criu";
      el.push(
        marker(e, x(i), y(p.ratio), color),
        `<text x="${x(i) + (left ? -7 : 7)}" y="${y(p.ratio) + 4}" font-size="10" ` +
          `text-anchor="${left ? "end" : "start"}" fill="${color}">${ratioText(p.ratio)}×</text>`,
      );
    });
    for (const pts of segments.filter((g) => g.length > 1)) {
      el.push(
        `<polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="2" ` +
          `stroke-dasharray="${DASH[e] ?? ""}"/>`,
      );
    }
  });

  // Legend.
  let ly = top + 10;
  servers.forEach((s, k) => {
    const color = COLORS[k];
    for (const e of engines) {
      el.push(
        `<line x1="${legendX}" y1="${ly}" x2="${legendX + 26}" y2="${ly}" stroke="${color}" ` +
          `stroke-width="2" stroke-dasharray="${DASH[e] ?? ""}"/>`,
        marker(e, legendX + 13, ly, color),
        `<text x="${legendX + 32}" y="${ly + 4}" font-size="12">${esc(s)} under a8, ${e}</text>`,
      );
      ly += 18;
    }
    const b = baseline(s);
    if (b) {
      el.push(
        `<line x1="${legendX}" y1="${ly}" x2="${legendX + 26}" y2="${ly}" stroke="${color}" ` +
          `stroke-dasharray="1 3" stroke-width="1.5"/>`,
        `<text x="${legendX + 32}" y="${ly + 4}" font-size="12">${esc(s)} under a8, no ` +
          `checkpoints${typeof b.ratio === "number" ? ` (${ratioText(b.ratio)}×)` : ""}</text>`,
      );
      ly += 18;
    }
    const n = rounds.find((x) => x.server === s && x.engine === "native");
    if (n?.wrk) {
      el.push(
        `<text x="${legendX + 32}" y="${ly + 2}" font-size="10" fill="#666">native: ${
          Math.round(n.wrk.requests_per_s)
        } req/s</text>`,
      );
    }
    ly += 24;
  });
  el.push(
    `<line x1="${legendX}" y1="${ly}" x2="${legendX + 26}" y2="${ly}" stroke="#ff7f0e" ` +
      `stroke-width="3"/>`,
    `<text x="${legendX + 32}" y="${ly + 4}" font-size="12">target of issue 4</text>`,
    `<text x="${legendX}" y="${ly + 26}" font-size="12" font-weight="bold">×</text>`,
    `<text x="${legendX + 32}" y="${ly + 26}" font-size="12">a8 stopped: no figure (table ` +
      `below)</text>`,
  );

  // Rollbacks under each rate.
  el.push(
    `<text x="${left}" y="${rowsY}" font-size="11" font-weight="bold">rollbacks (leader): ` +
      `count, p50 / max ms; wrong answers in the verified loop</text>`,
  );
  series.forEach(({ s, e, color }, n) => {
    const ry = rowsY + 18 + n * 30;
    el.push(
      `<text x="${left - 6}" y="${ry}" text-anchor="end" font-size="11" fill="${color}">` +
        `${esc(s)} ${e}</text>`,
    );
    rates.forEach((rate, i) => {
      const p = at(s, e, rate);
      const l = p?.leader;
      const a = l ? `${l.rollbacks}, ${l.rollback_ms?.p50 ?? 0} / ${l.rollback_ms?.max ?? 0}` : "-";
      const w = p?.stopped ? "× a8 stopped" : p?.verify ? `${p.verify.wrong} wrong` : "";
      el.push(
        `<text x="${x(i)}" y="${ry}" text-anchor="middle" font-size="11">${esc(a)}</text>`,
        `<text x="${x(i)}" y="${ry + 12}" text-anchor="middle" font-size="10" fill="${
          p?.verify?.wrong || p?.stopped ? "#d62728" : "#666"
        }">${esc(w)}</text>`,
      );
    });
  });

  // CRIU alone.
  const c = r.criu_raw_lighttpd;
  const cy = rowsY + series.length * 30 + 40;
  const lines = c?.cycles?.length
    ? [
      `CRIU alone (no a8), dump/kill/restore of a native lighttpd, p50 of ${c.cycles.length} ` +
      `cycles: dump ${c.dump_ms.p50} ms (left running),`,
      `kill ${c.kill_ms.p50} ms + restore ${c.restore_ms.p50} ms, first right answer ` +
      `${c.first_answer_after_restore_ms.p50} ms later; target of a CRIU rollback: ≤${
        r.targets?.rollback_ms_criu ?? 100
      } ms`,
    ]
    : [`CRIU alone, dump/restore of a native lighttpd: ${c?.error ?? "not run"}`];
  lines.forEach((l, i) => {
    el.push(`<text x="${left}" y="${cy + 16 * i}" font-size="12">${esc(l)}</text>`);
  });

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
    `viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n${el.join("\n")}\n</svg>\n`;
}
