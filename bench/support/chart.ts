// A hand-rolled SVG of bench:steady: server CPU and publish latency against
// the number of clients, presence vs plain Faye. No dependencies.
export interface ChartPoint {
  clients: number;
  cpu: number;
  p50: number | null;
  p99: number | null;
}

export interface ChartSeries {
  name: string;
  color: string;
  points: ChartPoint[];
}

const W = 420;
const H = 260;
const M = { left: 56, right: 16, top: 34, bottom: 42 };

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * step >= value) return k * step;
  return 10 * step;
}

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function panel(x0: number, title: string, yLabel: string, series: ChartSeries[], value: (p: ChartPoint) => number | null, dashed?: (p: ChartPoint) => number | null): string {
  const xs = series.flatMap((s) => s.points.map((p) => p.clients));
  const ys = series.flatMap((s) => s.points.flatMap((p) => [value(p), dashed?.(p) ?? null])).filter((v): v is number => v !== null);
  const xMax = niceMax(Math.max(...xs));
  const yMax = niceMax(Math.max(...ys));
  const px = (x: number) => x0 + M.left + (x / xMax) * (W - M.left - M.right);
  const py = (y: number) => M.top + (1 - y / yMax) * (H - M.top - M.bottom);
  const out: string[] = [`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  for (let i = 0; i <= 4; i += 1) {
    const y = (yMax * i) / 4;
    out.push(`<line x1="${px(0)}" x2="${px(xMax)}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${px(0) - 6}" y="${py(y) + 4}" text-anchor="end">${+y.toPrecision(3)}</text>`);
    const x = (xMax * i) / 4;
    out.push(`<text x="${px(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${+x.toPrecision(4)}</text>`);
  }
  out.push(`<line x1="${px(0)}" x2="${px(0)}" y1="${py(0)}" y2="${py(yMax)}" stroke="#333"/>`);
  out.push(`<line x1="${px(0)}" x2="${px(xMax)}" y1="${py(0)}" y2="${py(0)}" stroke="#333"/>`);
  out.push(`<text x="${x0 + (W + M.left) / 2}" y="${H - 6}" text-anchor="middle">clients</text>`);
  out.push(`<text transform="translate(${x0 + 14},${(H + M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  const line = (s: ChartSeries, get: (p: ChartPoint) => number | null, dash: string) => {
    const pts = s.points.filter((p) => get(p) !== null).sort((a, b) => a.clients - b.clients);
    if (pts.length === 0) return;
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.map((p) => `${px(p.clients).toFixed(1)},${py(get(p)!).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.clients).toFixed(1)}" cy="${py(get(p)!).toFixed(1)}" r="3" fill="${s.color}"/>`);
  };
  for (const s of series) {
    line(s, value, '');
    if (dashed) line(s, dashed, ' stroke-dasharray="5,4"');
  }
  return out.join('\n');
}

export function steadyChart(series: ChartSeries[], subtitle: string): string {
  const legend = series.map((s, i) => `<rect x="${20 + i * 150}" y="${H + 8}" width="14" height="4" fill="${s.color}"/><text x="${40 + i * 150}" y="${H + 14}">${esc(s.name)}</text>`).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 44}" viewBox="0 0 ${2 * W} ${H + 44}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
${panel(0, 'Server CPU (seconds per second)', 'CPU s/s', series, (p) => p.cpu)}
${panel(W, 'Publish latency, ms (solid p50, dashed p99)', 'ms', series, (p) => p.p50, (p) => p.p99)}
${legend}
<text x="${2 * W - 10}" y="${H + 36}" text-anchor="end" fill="#666">${esc(subtitle)}</text>
</svg>
`;
}
