/**
 * A small hand-written SVG line chart: eval loss (linear y) against bytes sent per worker (log x),
 * one polyline per run. Pure: returns the SVG text.
 */

export type PlotSeries = { name: string; points: { x: number; y: number }[] };

const COLORS = [
  '#000000',
  '#d62728',
  '#1f77b4',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmtBytes(b: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (b >= 1000 && u < units.length - 1) {
    b /= 1000;
    u++;
  }
  return `${Math.round(b)} ${units[u]}`;
}

export function lossVsBytesSvg(title: string, series: readonly PlotSeries[], yLabel = 'eval loss'): string {
  const W = 900;
  const H = 520;
  const L = 70;
  const R = 250;
  const T = 40;
  const B = 60;
  const pts = series.flatMap((s) => s.points).filter((p) => p.x > 0 && Number.isFinite(p.y));
  const xs = pts.map((p) => Math.log10(p.x));
  const ys = pts.map((p) => p.y);
  const x0 = Math.floor(Math.min(...xs));
  const x1 = Math.ceil(Math.max(...xs));
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  const pad = (y1 - y0) * 0.05 || 0.1;
  y0 -= pad;
  y1 += pad;
  const px = (x: number) => L + ((Math.log10(x) - x0) / Math.max(1e-9, x1 - x0)) * (W - L - R);
  const py = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${L}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  // axes and grid
  for (let e = x0; e <= x1; e++) {
    const x = px(10 ** e);
    out.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle">${fmtBytes(10 ** e)}</text>`);
  }
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const v = y0 + ((y1 - y0) * i) / ticks;
    const y = py(v);
    out.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${v.toFixed(3)}</text>`);
  }
  out.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#333"/>`);
  out.push(
    `<text x="${(L + W - R) / 2}" y="${H - 18}" text-anchor="middle">bytes sent per worker (log scale)</text>`,
  );
  out.push(
    `<text x="18" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(T + H - B) / 2})">${esc(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const p = s.points.filter((q) => q.x > 0 && Number.isFinite(q.y));
    if (p.length === 0) return;
    const d = p.map((q) => `${px(q.x).toFixed(1)},${py(q.y).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${d}" fill="none" stroke="${c}" stroke-width="1.8"/>`);
    const last = p[p.length - 1];
    out.push(`<circle cx="${px(last.x).toFixed(1)}" cy="${py(last.y).toFixed(1)}" r="3.5" fill="${c}"/>`);
    const ly = T + 10 + i * 18;
    out.push(
      `<line x1="${W - R + 15}" y1="${ly}" x2="${W - R + 40}" y2="${ly}" stroke="${c}" stroke-width="2.5"/>`,
    );
    out.push(`<text x="${W - R + 46}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
