// The playground page: reads the controls, has gradtx compute the trajectories (compute.mjs),
// publishes them as window.playground, and draws exactly what it published.
import * as gradtx from "gradtx";
import { compute, DEFAULTS, PROBLEMS } from "./compute.mjs";

const POLICIES = ["keep", "reset", "interpolate"];
const $ = (id) => document.getElementById(id);
const COLORS = { inner: "#d1495b", fast: "#6c8ebf", slow: "#1d2330" };

/** The learning rate of slider position `i` (0..100): log-spaced over the problem's range, 3 digits. */
function learningRateAt(problem, i) {
  const { min, max } = PROBLEMS[problem].lr;
  return Number((min * (max / min) ** (i / 100)).toPrecision(3));
}
function positionOf(problem, lr) {
  const { min, max } = PROBLEMS[problem].lr;
  return Math.round((100 * Math.log(lr / min)) / Math.log(max / min));
}

function settingsFromControls() {
  const problem = $("problem").value;
  return {
    problem,
    learningRate: learningRateAt(problem, Number($("learningRate").value)),
    momentum: Number($("momentum").value),
    syncPeriod: Number($("syncPeriod").value),
    alpha: Number($("alpha").value),
    innerState: POLICIES[Number($("innerState").value)],
  };
}

function showValues(settings) {
  $("learningRate-value").value = String(settings.learningRate);
  $("momentum-value").value = settings.momentum.toFixed(2);
  $("syncPeriod-value").value = String(settings.syncPeriod);
  $("alpha-value").value = settings.alpha.toFixed(2);
  $("innerState-value").value = settings.innerState;
}

/** The loss surface as filled contours (bands of log loss), cached per problem. */
const surfaces = new Map();
function surface(name, width, height) {
  let image = surfaces.get(name);
  if (image !== undefined) return image;
  const problem = PROBLEMS[name];
  const ctx = document.createElement("canvas").getContext("2d");
  image = ctx.createImageData(width, height);
  const {
    x: [x0, x1],
    y: [y0, y1],
  } = problem.view;
  const values = new Float64Array(width * height);
  for (let r = 0; r < height; r++)
    for (let c = 0; c < width; c++)
      values[r * width + c] = Math.log10(
        1e-3 + problem.loss([x0 + ((x1 - x0) * c) / width, y1 - ((y1 - y0) * r) / height]),
      );
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  for (let k = 0; k < values.length; k++) {
    // 16 bands, light at the bottom of the valley, alternately shaded so that they read as contours.
    const index = Math.min(15, Math.floor(((values[k] - lo) / (hi - lo)) * 16));
    const t = index / 15;
    const shade = index % 2 === 0 ? 0 : 10;
    image.data.set([250 - 110 * t - shade, 246 - 80 * t - shade, 228 - 20 * t - shade, 255], 4 * k);
  }
  surfaces.set(name, image);
  return image;
}

function drawPaths(canvas, trace) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const problem = PROBLEMS[trace.settings.problem];
  const {
    x: [x0, x1],
    y: [y0, y1],
  } = problem.view;
  const px = ([x, y]) => [((x - x0) / (x1 - x0)) * width, ((y1 - y) / (y1 - y0)) * height];
  ctx.putImageData(surface(trace.settings.problem, width, height), 0, 0);
  const line = (points, color, lineWidth) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = lineWidth;
    ctx.beginPath();
    points.forEach((p, i) => {
      const [a, b] = px(p.map((v) => (Number.isFinite(v) ? Math.max(-1e6, Math.min(1e6, v)) : 0)));
      if (i === 0) ctx.moveTo(a, b);
      else ctx.lineTo(a, b);
    });
    ctx.stroke();
  };
  ctx.lineJoin = "round";
  line(trace.inner, COLORS.inner, 2);
  line(trace.fast, COLORS.fast, 1.2);
  line(
    trace.slow.map((s) => s.point),
    COLORS.slow,
    3,
  );
  ctx.fillStyle = COLORS.slow;
  for (const s of trace.slow) {
    const [a, b] = px(s.point);
    ctx.beginPath();
    ctx.arc(a, b, 3.5, 0, 2 * Math.PI);
    ctx.fill();
  }
  const [sa, sb] = px(problem.start);
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 1.5;
  ctx.strokeRect(sa - 5, sb - 5, 10, 10);
  ctx.fillStyle = "#1d2330";
  ctx.font = "13px system-ui, sans-serif";
  ctx.fillText(problem.label, 10, 20);
}

function drawLoss(canvas, trace) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 48, right: 12, top: 12, bottom: 26 };
  ctx.clearRect(0, 0, width, height);
  const all = [...trace.loss.inner, ...trace.loss.fast].filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.floor(Math.log10(Math.min(...all)));
  const hi = Math.ceil(Math.log10(Math.max(...all)));
  const steps = trace.fast.length - 1;
  const x = (step) => pad.left + (step / steps) * (width - pad.left - pad.right);
  const y = (v) =>
    pad.top + ((hi - Math.log10(Math.max(v, 10 ** lo))) / Math.max(1, hi - lo)) * (height - pad.top - pad.bottom);
  ctx.fillStyle = "#555";
  ctx.strokeStyle = "#e3e5ec";
  ctx.font = "11px system-ui, sans-serif";
  const every = Math.ceil((hi - lo) / 8);
  for (let e = lo; e <= hi; e += every) {
    ctx.beginPath();
    ctx.moveTo(pad.left, y(10 ** e));
    ctx.lineTo(width - pad.right, y(10 ** e));
    ctx.stroke();
    ctx.fillText(`1e${e}`, 6, y(10 ** e) + 4);
  }
  ctx.fillText("step", (width + pad.left) / 2 - 12, height - 8);
  ctx.fillText("0", pad.left, height - 8);
  ctx.fillText(String(steps), x(steps) - 20, height - 8);
  const series = (values, at, color, lineWidth) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = lineWidth;
    ctx.beginPath();
    values.forEach((v, i) => (i === 0 ? ctx.moveTo(x(at(i)), y(v)) : ctx.lineTo(x(at(i)), y(v))));
    ctx.stroke();
  };
  series(trace.loss.inner, (i) => i, COLORS.inner, 2);
  series(trace.loss.fast, (i) => i, COLORS.fast, 1.2);
  series(trace.loss.slow, (i) => trace.slow[i].step, COLORS.slow, 2.5);
}

let drawn = 0;
function update() {
  const settings = settingsFromControls();
  showValues(settings);
  // What is drawn is what is published: the test compares this object with Node's numbers.
  window.playground = compute(gradtx, settings);
  const trace = window.playground;
  drawPaths($("paths"), trace);
  drawLoss($("loss"), trace);
  const last = (values) => values[values.length - 1].toExponential(2);
  $("summary").textContent =
    `loss after ${trace.fast.length - 1} steps: inner optimizer ${last(trace.loss.inner)}, ` +
    `Lookahead ${last(trace.loss.fast)} (slow weights ${last(trace.loss.slow)})`;
  document.body.dataset.drawn = String(++drawn);
}

function start() {
  for (const [name, problem] of Object.entries(PROBLEMS)) $("problem").add(new window.Option(problem.label, name));
  const set = (s) => {
    $("problem").value = s.problem;
    $("learningRate").value = String(positionOf(s.problem, s.learningRate));
    $("momentum").value = String(s.momentum);
    $("syncPeriod").value = String(s.syncPeriod);
    $("alpha").value = String(s.alpha);
    $("innerState").value = String(POLICIES.indexOf(s.innerState));
  };
  set(DEFAULTS);
  $("problem").addEventListener("change", () => {
    $("learningRate").value = String(positionOf($("problem").value, PROBLEMS[$("problem").value].lr.value));
    update();
  });
  for (const id of ["learningRate", "momentum", "syncPeriod", "alpha", "innerState"])
    $(id).addEventListener("input", update);
  update();
}

start();
