// Charts drawn as inline SVG: a bar chart (energy per day), a line chart (a transaction's meter values) and a step
// chart (a site's current over the day).

import { clock } from "./ui.js";

const NS = "http://www.w3.org/2000/svg";
const HEIGHT = 220;
const PAD = { top: 12, right: 12, bottom: 28, left: 48 };

// Drawn as wide as the page's main column, so the 12 px labels stay 12 px from phone to desktop.
let WIDTH = 640;

function measure() {
  const column = document.querySelector("main")?.clientWidth || window.innerWidth;
  WIDTH = Math.round(Math.min(900, Math.max(280, column - 72)));
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function frame(label) {
  measure();
  return svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label });
}

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

function yAxis(root, max, format) {
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + plotHeight * (1 - fraction);
    root.append(
      svg("line", { class: "grid-line", x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y }),
      svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, format(max * fraction)),
    );
  }
}

/** bars: [{label, value, title, highlight}] */
export function barChart(bars, { label, format }) {
  const root = frame(label);
  const max = niceMax(Math.max(0, ...bars.map((bar) => bar.value)));
  yAxis(root, max, format);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / Math.max(bars.length, 1);
  const labelEvery = Math.ceil(bars.length / 8);
  bars.forEach((bar, i) => {
    const height = (bar.value / max) * plotHeight;
    const x = PAD.left + i * slot + slot * 0.15;
    const rect = svg("rect", {
      class: bar.highlight ? "bar today" : "bar",
      x, y: PAD.top + plotHeight - height, width: slot * 0.7, height: Math.max(height, 0),
    }, svg("title", {}, bar.title));
    root.append(rect);
    if (i % labelEvery === 0 || i === bars.length - 1) {
      root.append(svg("text", { x: x + slot * 0.35, y: HEIGHT - 8, "text-anchor": "middle" }, bar.label));
    }
  });
  return root;
}

/** points: [{x: Date, y: number}], drawn against time. */
export function lineChart(points, { label, format }) {
  const root = frame(label);
  const max = niceMax(Math.max(0, ...points.map((point) => point.y)));
  yAxis(root, max, format);
  if (points.length === 0) return root;
  const times = points.map((point) => point.x.getTime());
  const start = Math.min(...times);
  const span = Math.max(Math.max(...times) - start, 1);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const coordinates = points.map((point) => [
    PAD.left + ((point.x.getTime() - start) / span) * plotWidth,
    PAD.top + plotHeight * (1 - point.y / max),
  ]);
  root.append(svg("polyline", { class: "line", points: coordinates.map((c) => c.join(",")).join(" ") }));
  root.append(
    svg("text", { x: PAD.left, y: HEIGHT - 8 }, clock(start)),
    svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 8, "text-anchor": "end" }, clock(start + span)),
  );
  return root;
}

/**
 * series: [{kind, points: [{x: Date, y: number | null}]}], each drawn as steps (a value holds until the
 * next) from `start` to `end`; a null value leaves a gap. For a site's current over the day.
 */
export function stepChart(series, { label, format, start, end }) {
  const root = frame(label);
  const values = series.flatMap((line) => line.points.map((point) => point.y)).filter(Number.isFinite);
  const max = niceMax(Math.max(0, ...values));
  yAxis(root, max, format);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const span = Math.max(end - start, 1);
  const x = (time) => PAD.left + ((Math.min(Math.max(time, start), end) - start) / span) * plotWidth;
  const y = (value) => PAD.top + plotHeight * (1 - value / max);
  for (const line of series) {
    let path = "";
    let drawing = false;
    for (const point of line.points) {
      if (!Number.isFinite(point.y)) {
        if (drawing) path += `H${x(point.x.getTime())}`;
        drawing = false;
        continue;
      }
      path += drawing ? `H${x(point.x.getTime())}V${y(point.y)}` : `M${x(point.x.getTime())},${y(point.y)}`;
      drawing = true;
    }
    if (drawing) path += `H${x(end)}`;
    if (path) root.append(svg("path", { class: `line ${line.kind}`, d: path }));
  }
  // A span of minutes (a site made just now) is labelled to the second.
  const seconds = span < 600_000;
  root.append(
    svg("text", { x: PAD.left, y: HEIGHT - 8 }, clock(start, { seconds })),
    svg("text", { x: PAD.left + plotWidth / 2, y: HEIGHT - 8, "text-anchor": "middle" }, clock(start + span / 2, { seconds })),
    svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 8, "text-anchor": "end" }, clock(end, { seconds })),
  );
  return root;
}
