// A small SVG chart, built with createElementNS so it passes the console's CSP (no inline
// style: colours come from classes in style.css, .series-a … .series-d and .series-pace).
//
// chart({ series: [{ name, values, kind: 'bar'|'line', className }], labels, height = 160, title })
// returns an <svg role="img" aria-label=title> with a y axis (0 to a rounded maximum, whole
// numbers when the data is whole), x labels (thinned so they never overlap), the bars of
// several bar series side by side per label, lines on top, and a legend above.
//
// The svg is as wide as its container and redraws itself when that width changes (a
// ResizeObserver), so text stays at its real size on a phone and on a wide screen alike.

const NS = 'http://www.w3.org/2000/svg';
const FONT = 12;

function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Ticks from 0 to at least max: a nice step (1, 2, 2.5, 5 × 10^n), whole when the data is. */
function ticks(max, whole) {
  if (!(max > 0)) return { top: whole ? 1 : 1, step: whole ? 1 : 0.25 };
  const rough = max / 4;
  const exp = Math.pow(10, Math.floor(Math.log10(rough)));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * exp).find((s) => s >= rough) ?? 10 * exp;
  if (whole) step = Math.max(1, Math.ceil(step));
  return { top: Math.ceil(max / step) * step, step };
}

function formatTick(value) {
  if (Math.abs(value) >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (Math.abs(value) >= 1e4) return `${+(value / 1e3).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : String(+value.toFixed(2));
}

/** Roughly how wide a label is drawn (CJK characters count double). */
function textWidth(text) {
  let units = 0;
  for (const ch of String(text)) units += ch.charCodeAt(0) > 0x2e80 ? 2 : 1;
  return units * FONT * 0.6;
}

export function chart({ series = [], labels = [], height = 160, title = 'Chart' } = {}) {
  const svg = el('svg', {
    role: 'img',
    'aria-label': title,
    class: 'chart',
    height,
    width: '100%',
  });
  let drawnWidth = 0;

  function draw(width) {
    drawnWidth = width;
    svg.replaceChildren();
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.append(el('title', {}, title));

    const count = Math.max(labels.length, ...series.map((s) => s.values?.length ?? 0), 1);
    const all = series.flatMap((s) => (s.values ?? []).filter((v) => Number.isFinite(v)));
    const whole = all.every((v) => Number.isInteger(v));
    const { top, step } = ticks(Math.max(0, ...all), whole);
    const tickLabels = [];
    for (let v = 0; v <= top + step / 2; v += step) tickLabels.push(v);
    const left = Math.max(28, ...tickLabels.map((v) => textWidth(formatTick(v)) + 10));
    const legendHeight = series.length ? 24 : 0;
    const pad = { top: 8 + legendHeight, right: 8, bottom: 22, left };
    const plotW = Math.max(20, width - pad.left - pad.right);
    const plotH = Math.max(30, height - pad.top - pad.bottom);
    const y = (v) => pad.top + plotH - (Math.max(0, v) / top) * plotH;
    const band = plotW / count;
    const xCenter = (i) => pad.left + band * (i + 0.5);

    // Grid lines and y ticks.
    const grid = el('g', { class: 'chart-grid' });
    for (const value of tickLabels) {
      const yy = y(value);
      grid.append(el('line', { x1: pad.left, x2: width - pad.right, y1: yy, y2: yy, stroke: '#e2ddd7', 'stroke-width': 1 }));
      grid.append(el('text', { x: pad.left - 6, y: yy + 4, 'text-anchor': 'end', class: 'chart-tick', fill: '#6b655f', 'font-size': FONT }, formatTick(value)));
    }
    svg.append(grid);

    // X labels: as many as fit without overlapping, always the first and the last.
    const xaxis = el('g', { class: 'chart-xaxis' });
    xaxis.append(el('line', { x1: pad.left, x2: width - pad.right, y1: pad.top + plotH, y2: pad.top + plotH, stroke: '#6b655f', 'stroke-width': 1 }));
    const widest = Math.max(1, ...labels.map((l) => textWidth(l))) + 10;
    // A few categories each keep a label, shortened to its band; many are thinned out.
    const categorical = count <= 12;
    const every = categorical ? 1 : Math.max(1, Math.ceil(widest / band));
    const fit = (label) => {
      if (!categorical || textWidth(label) <= band - 4) return label;
      let short = String(label);
      while (short.length > 1 && textWidth(`${short}…`) > band - 4) short = short.slice(0, -1);
      return `${short}…`;
    };
    labels.forEach((rawLabel, i) => {
      const label = fit(rawLabel);
      const last = labels.length - 1;
      const shown = i === last || (i % every === 0 && (last - i >= every || i === 0));
      if (!shown) return;
      // Keep the first and last labels inside the drawing.
      let x = xCenter(i);
      const half = textWidth(label) / 2;
      x = Math.min(Math.max(x, half + 2), width - half - 2);
      const text = el('text', { x, y: pad.top + plotH + 16, 'text-anchor': 'middle', class: 'chart-tick', fill: '#6b655f', 'font-size': FONT }, label);
      if (label !== rawLabel) text.append(el('title', {}, rawLabel));
      xaxis.append(text);
    });
    svg.append(xaxis);

    // Bars: the bar series side by side within each label's band.
    const bars = series.filter((s) => (s.kind ?? 'bar') === 'bar');
    const inner = Math.min(band * (band > 12 ? 0.78 : 0.9), 36 * Math.max(1, bars.length));
    const barW = bars.length ? inner / bars.length : 0;
    bars.forEach((s, k) => {
      const g = el('g', { class: `chart-bars ${s.className ?? ''}`.trim() });
      (s.values ?? []).forEach((v, i) => {
        if (!Number.isFinite(v)) return;
        const topY = y(v);
        const x = pad.left + band * i + (band - inner) / 2 + barW * k;
        const rect = el('rect', {
          x: x.toFixed(2),
          y: topY.toFixed(2),
          width: Math.max(0.5, barW - (bars.length > 1 && barW > 3 ? 1 : 0)).toFixed(2),
          height: Math.max(0, pad.top + plotH - topY).toFixed(2),
        });
        rect.append(el('title', {}, `${s.name}${labels[i] !== undefined ? ` · ${labels[i]}` : ''}: ${v}`));
        g.append(rect);
      });
      svg.append(g);
    });

    // Lines on top of the bars.
    series.filter((s) => s.kind === 'line').forEach((s) => {
      const points = (s.values ?? [])
        .map((v, i) => (Number.isFinite(v) ? `${xCenter(i).toFixed(2)},${y(v).toFixed(2)}` : null))
        .filter(Boolean);
      if (!points.length) return;
      const g = el('g', { class: `chart-line ${s.className ?? ''}`.trim() });
      g.append(el('polyline', { points: points.join(' '), fill: 'none', 'stroke-width': 2, 'stroke-linejoin': 'round', 'stroke-linecap': 'round' }));
      if (points.length === 1) {
        const [cx, cy] = points[0].split(',');
        g.append(el('circle', { cx, cy, r: 3 }));
      }
      g.append(el('title', {}, s.name));
      svg.append(g);
    });

    // Legend.
    if (series.length) {
      const legend = el('g', { class: 'chart-legend' });
      let x = pad.left;
      series.forEach((s) => {
        const kind = s.kind ?? 'bar';
        const g = el('g', { class: `${kind === 'line' ? 'chart-line' : 'chart-bars'} ${s.className ?? ''}`.trim() });
        if (kind === 'line') g.append(el('line', { x1: x, x2: x + 16, y1: 12, y2: 12, 'stroke-width': 2 }));
        else g.append(el('rect', { x, y: 6, width: 12, height: 12, rx: 2 }));
        g.append(el('text', { x: x + 20, y: 16, 'font-size': FONT, class: 'chart-legend-text', fill: '#1d1b19' }, s.name));
        legend.append(g);
        x += 34 + textWidth(s.name);
      });
      svg.append(legend);
    }
  }

  draw(640);
  if (typeof ResizeObserver === 'function') {
    const observer = new ResizeObserver((entries) => {
      if (!svg.isConnected) { observer.disconnect(); return; }
      const width = Math.round(entries[entries.length - 1].contentRect.width);
      if (width > 0 && Math.abs(width - drawnWidth) >= 1) draw(width);
    });
    observer.observe(svg);
  }
  return svg;
}
