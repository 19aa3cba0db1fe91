// neurodyn report page (docs/report.md): the viewer `neurodyn report` inlines
// into its HTML file and `neurodyn serve` serves.  The data is the JSON of
// <script id="nd-data"> ({runs, live, compare}); a live page receives the
// run through server-sent events from /events instead.  Libraries: uPlot
// (metrics plots, global `uPlot`) and three.js (3-D view), both inlined.
import * as THREE from 'three';

const DATA = JSON.parse(document.getElementById('nd-data').textContent);
const app = document.getElementById('nd-app');
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const X_KEYS = ['step', 'epoch'];
const MAX_LIVE_FRAMES = 4000; // per stream in a live page; older frames are dropped

// What the browser test reads (tests/browser/report.test.mjs).
const nd = { plots: [], viewers: [], ready: false, events: 0 };
window.ndReport = nd;

// ------------------------------------------------------------ helpers

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of kids) if (c != null) e.append(c);
  return e;
}

function b64ToF32(b64) {
  const bin = atob(b64);
  const u8 = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
  return new Float32Array(u8.buffer, 0, u8.length >> 2);
}

function fmt(v) {
  if (v == null) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// The numeric fields of one metrics line, as the C side reads them
// (cli/report_data.c): nested objects "a.b" (two levels), arrays "a[i]".
function flatten(obj, prefix = '', depth = 0, out = {}) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
    else if (Array.isArray(v)) {
      if (v.length <= 64) v.forEach((e, i) => { if (typeof e === 'number' && Number.isFinite(e)) out[`${key}[${i}]`] = e; });
    } else if (v && typeof v === 'object' && depth < 2) flatten(v, key + '.', depth + 1, out);
  }
  return out;
}

function emptyRun(name) {
  return { name, path: '', config: null, metrics: { keys: [], n: 0, columns: {} }, pngs: [], streams: [] };
}

// ------------------------------------------------------------ colour maps

// viridis, 9 stops
const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
function ramp(stops, u) {
  u = Math.min(1, Math.max(0, u)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(u)), f = u - i, a = stops[i], b = stops[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}
const DIVERGING = [[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247], [253, 219, 199], [239, 138, 98], [178, 24, 43]];

// A colour scale for values in [lo, hi]: diverging around 0 when the values
// have both signs, viridis otherwise.  rgb(v) -> [r, g, b] in 0..255.
function colorScale(lo, hi) {
  if (!(hi > lo)) hi = lo + 1;
  if (lo < 0 && hi > 0) {
    const m = Math.max(-lo, hi);
    return { lo: -m, hi: m, css: DIVERGING, rgb: (v) => ramp(DIVERGING, (v + m) / (2 * m)) };
  }
  return { lo, hi, css: VIRIDIS, rgb: (v) => ramp(VIRIDIS, (v - lo) / (hi - lo)) };
}

function colorbar(scale) {
  const stops = scale.css.map((c, i) => `rgb(${c.join(',')}) ${(100 * i) / (scale.css.length - 1)}%`).join(',');
  return el('div', { class: 'colorbar' }, el('span', { text: fmt(scale.lo) }),
    el('span', { class: 'ramp', style: `background: linear-gradient(to right, ${stops})` }), el('span', { text: fmt(scale.hi) }));
}

// ------------------------------------------------------------ layout

const sections = {};
function section(id, title) {
  if (!sections[id]) {
    const body = el('div');
    const s = el('section', { id: 'sec-' + id }, el('h2', { text: title }), body);
    app.append(s);
    document.getElementById('nd-nav').append(el('a', { href: '#sec-' + id, text: title }));
    sections[id] = body;
  }
  return sections[id];
}

// ------------------------------------------------------------ config

function renderConfig(runs) {
  const body = section('config', 'Configuration');
  body.replaceChildren();
  const withConfig = runs.filter((r) => r.config);
  if (!withConfig.length) { body.append(el('p', { class: 'empty', text: 'no config.json' })); return; }
  const keys = [];
  for (const r of withConfig) for (const k of Object.keys(r.config)) if (!keys.includes(k)) keys.push(k);
  const table = el('table', { class: 'config' });
  const head = el('tr', {}, el('th', { text: 'option' }));
  for (const r of withConfig) head.append(el('th', { text: r.name }));
  table.append(head);
  const main = keys.filter((k) => !k.startsWith('_')), meta = keys.filter((k) => k.startsWith('_'));
  for (const k of main) {
    const vals = withConfig.map((r) => fmt(r.config[k]));
    const tr = el('tr', { class: vals.some((v) => v !== vals[0]) ? 'diff' : '' }, el('th', { text: k }));
    for (const v of vals) tr.append(el('td', { text: v }));
    table.append(tr);
  }
  body.append(el('div', { class: 'card' }, table));
  for (const k of meta) {
    const d = el('details', { class: 'config' }, el('summary', { text: k }));
    for (const r of withConfig) if (r.config[k] !== undefined)
      d.append(el('div', { class: 'muted', text: r.name }), el('pre', { text: JSON.stringify(r.config[k], null, 2) }));
    body.append(d);
  }
}

// ------------------------------------------------------------ metrics

function xKeyOf(run) { return X_KEYS.find((k) => run.metrics.keys.includes(k)) || null; }
function groupOf(key) { return key.replace(/^(train|test|val|valid|validation)[_.]/, ''); }

// Plots: one per group of keys (train_error, test_error -> "error"), one
// series per run and key.
function plotGroups(runs) {
  const groups = new Map();
  runs.forEach((run, ri) => {
    const xk = xKeyOf(run);
    for (const k of run.metrics.keys) {
      if (k === xk || X_KEYS.includes(k)) continue;
      const g = groupOf(k);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push({ run: ri, key: k });
    }
  });
  return groups;
}

function plotData(runs, series, log) {
  const xsOf = (run) => {
    const xk = xKeyOf(run), n = run.metrics.n;
    return xk ? run.metrics.columns[xk] : Array.from({ length: n }, (_, i) => i + 1);
  };
  const xset = new Set();
  for (const s of series) for (const x of xsOf(runs[s.run])) if (x != null) xset.add(x);
  const xs = [...xset].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const data = [xs];
  for (const s of series) {
    const run = runs[s.run], col = run.metrics.columns[s.key] || [], rx = xsOf(run);
    const ys = new Array(xs.length).fill(null);
    for (let i = 0; i < col.length; i++) {
      const v = col[i];
      if (v == null || rx[i] == null || (log && !(v > 0))) continue;
      ys[at.get(rx[i])] = v;
    }
    data.push(ys);
  }
  return data;
}

const plotState = new Map(); // group -> {signature, plot, log, div}

function renderMetrics(runs) {
  const body = section('metrics', 'Metrics');
  const groups = plotGroups(runs);
  if (!groups.size) {
    if (!body.querySelector('.empty')) body.replaceChildren(el('p', { class: 'empty', text: 'no metrics yet' }));
    return;
  }
  let grid = body.querySelector('.grid');
  if (!grid) { grid = el('div', { class: 'grid' }); body.replaceChildren(grid); }
  const multi = runs.length > 1;
  for (const [g, series] of groups) {
    const sig = series.map((s) => s.run + ':' + s.key).join('|');
    let st = plotState.get(g);
    if (st && st.signature === sig) {
      st.plot.setData(plotData(runs, series, st.log));
      continue;
    }
    const build = (log) => {
      const xk = xKeyOf(runs[series[0].run]) || 'line';
      const opts = {
        width: 520, height: 260,
        scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
        cursor: { drag: { x: true, y: true, uni: 30 } },
        axes: [{ label: xk }, { size: 60 }],
        series: [{ label: xk }, ...series.map((s, i) => ({
          label: (multi ? runs[s.run].name + ': ' : '') + s.key,
          stroke: PALETTE[(multi ? s.run * 3 + i : i) % PALETTE.length], width: 1.5, spanGaps: true,
          points: { show: runs[s.run].metrics.n <= 60 },
        }))],
      };
      return new uPlot(opts, plotData(runs, series, log), st.div);
    };
    if (!st) {
      const div = el('div', { class: 'plot card', 'data-group': g });
      const logBox = el('input', { type: 'checkbox' });
      div.append(el('div', { class: 'bar' }, el('b', { text: g }), el('span', { text: 'drag: zoom, double-click: reset' }),
        el('label', {}, logBox, ' log scale')));
      grid.append(div);
      st = { div, log: false };
      plotState.set(g, st);
      logBox.addEventListener('change', () => {
        st.log = logBox.checked;
        st.plot.destroy();
        st.plot = build(st.log);
        const p = nd.plots.find((q) => q.group === g);
        if (p) p.uplot = st.plot;
      });
    } else {
      st.plot.destroy();
    }
    st.signature = sig;
    st.series = series;
    st.plot = build(st.log);
    const entry = nd.plots.find((p) => p.group === g);
    if (entry) Object.assign(entry, { series: series.length, uplot: st.plot });
    else nd.plots.push({ group: g, series: series.length, uplot: st.plot, div: st.div });
  }
}

// ------------------------------------------------------------ figures

function renderPngs(runs) {
  const body = section('figures', 'Figures');
  body.replaceChildren();
  let any = false;
  for (const run of runs) {
    if (!run.pngs.length) continue;
    any = true;
    const grid = el('div', { class: 'grid' });
    for (const p of run.pngs)
      grid.append(el('figure', { class: 'card' }, el('img', { src: p.src || 'data:image/png;base64,' + p.data, alt: p.name }),
        el('figcaption', { text: (runs.length > 1 ? run.name + ' / ' : '') + p.name })));
    body.append(grid);
  }
  if (!any) body.append(el('p', { class: 'empty', text: 'no PNG figures' }));
}

// ------------------------------------------------------------ recorded streams

// A stream's frames: [{t, a: Float32Array}], the global range, and its
// viewer.
function addChunk(stream, c) {
  const fs = stream.frameSize, f = b64ToF32(c.data);
  for (let i = 0; i < c.frames; i++) {
    const a = f.subarray(i * fs, (i + 1) * fs);
    for (let j = 0; j < a.length; j++) {
      const v = a[j];
      if (Number.isFinite(v)) { if (v < stream.lo) stream.lo = v; if (v > stream.hi) stream.hi = v; }
    }
    stream.frameList.push({ t: c.t0 + i * c.stride, a });
  }
  if (stream.frameList.length > MAX_LIVE_FRAMES) stream.frameList.splice(0, stream.frameList.length - MAX_LIVE_FRAMES);
}

function prepareStream(s) {
  s.frameSize = s.frame_shape.reduce((a, b) => a * b, 1);
  s.frameList = [];
  s.lo = Infinity;
  s.hi = -Infinity;
  for (const c of s.chunks || []) addChunk(s, c);
  return s;
}

function gridPositions(s) {
  const n = s.frameSize;
  if (s.positions) return b64ToF32(s.positions);
  const side = Math.ceil(Math.cbrt(n)), p = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) { p[3 * i] = i % side; p[3 * i + 1] = Math.floor(i / side) % side; p[3 * i + 2] = Math.floor(i / (side * side)); }
  return p;
}

// 3-D view: the nodes at their positions, coloured by the frame's values.
function grid3dView(s, box) {
  const pos = gridPositions(s), n = s.frameSize;
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) { lo[d] = Math.min(lo[d], pos[3 * i + d]); hi[d] = Math.max(hi[d], pos[3 * i + d]); }
  const ext = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) || 1;
  const p = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let d = 0; d < 3; d++) p[3 * i + d] = (pos[3 * i + d] - (lo[d] + hi[d]) / 2) / ext * 2;
  const canvas = el('canvas', { width: 560, height: 420, class: 'three' });
  box.append(canvas);
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setClearColor(0xeef0f4, 1);
  const scene = new THREE.Scene(), camera = new THREE.PerspectiveCamera(40, 560 / 420, 0.01, 100);
  const geo = new THREE.BufferGeometry();
  geo.setAttribute('position', new THREE.BufferAttribute(p, 3));
  const col = new Float32Array(3 * n);
  geo.setAttribute('color', new THREE.BufferAttribute(col, 3));
  const size = Math.max(0.02, Math.min(0.25, 1.6 / Math.cbrt(n)));
  const pts = new THREE.Points(geo, new THREE.PointsMaterial({ size, vertexColors: true, sizeAttenuation: true }));
  const group = new THREE.Group();
  group.add(pts);
  group.add(new THREE.LineSegments(new THREE.EdgesGeometry(new THREE.BoxGeometry(2.1, 2.1, 2.1)), new THREE.LineBasicMaterial({ color: 0x9aa3b2 })));
  scene.add(group);
  let yaw = 0.6, pitch = 0.45, dist = 4.2;
  const place = () => {
    camera.position.set(dist * Math.cos(pitch) * Math.sin(yaw), dist * Math.sin(pitch), dist * Math.cos(pitch) * Math.cos(yaw));
    camera.lookAt(0, 0, 0);
  };
  let drag = null, current = 0;
  canvas.addEventListener('pointerdown', (e) => { drag = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener('pointerup', () => { drag = null; });
  canvas.addEventListener('pointermove', (e) => {
    if (!drag) return;
    yaw -= (e.clientX - drag[0]) * 0.01;
    pitch = Math.max(-1.5, Math.min(1.5, pitch + (e.clientY - drag[1]) * 0.01));
    drag = [e.clientX, e.clientY];
    draw(current);
  });
  canvas.addEventListener('wheel', (e) => { e.preventDefault(); dist = Math.max(1.5, Math.min(20, dist * (e.deltaY > 0 ? 1.1 : 0.9))); draw(current); }, { passive: false });
  const draw = (i) => {
    current = i;
    const f = s.frameList[i];
    if (f) {
      const sc = colorScale(s.lo, s.hi), lin = new THREE.Color();
      for (let j = 0; j < n; j++) { // the colour map is sRGB; three.js blends in linear light
        const c = sc.rgb(f.a[j]);
        lin.setRGB(c[0] / 255, c[1] / 255, c[2] / 255, THREE.SRGBColorSpace);
        col[3 * j] = lin.r; col[3 * j + 1] = lin.g; col[3 * j + 2] = lin.b;
      }
      geo.attributes.color.needsUpdate = true;
    }
    place();
    renderer.render(scene, camera);
  };
  box.append(el('div', { class: 'muted', text: 'drag to turn, wheel to zoom' }));
  return { canvas, draw };
}

// Heat maps (map2d: C x H x W; image: H x W or C x H x W), one tile per channel.
function heatView(s, box) {
  const sh = s.frame_shape, [C, H, W] = sh.length === 3 ? sh : [1, sh[0], sh[1]];
  const cols = Math.ceil(Math.sqrt(C)), rows = Math.ceil(C / cols);
  const cw = cols * (W + 1) - 1, ch = rows * (H + 1) - 1;
  const canvas = el('canvas', { width: cw, height: ch, class: 'heat' });
  const scale = Math.max(1, Math.floor(Math.min(560 / cw, 560 / ch)));
  canvas.style.width = cw * scale + 'px';
  canvas.style.height = ch * scale + 'px';
  box.append(canvas);
  const ctx = canvas.getContext('2d'), img = ctx.createImageData(cw, ch);
  const perChannel = s.kind === 'image';
  const draw = (i) => {
    const f = s.frameList[i];
    img.data.fill(255);
    if (f) for (let c = 0; c < C; c++) {
      let sc;
      if (perChannel) {
        let lo = Infinity, hi = -Infinity;
        for (let j = c * H * W; j < (c + 1) * H * W; j++) { const v = f.a[j]; if (v < lo) lo = v; if (v > hi) hi = v; }
        sc = colorScale(lo, hi);
      } else sc = colorScale(s.lo, s.hi);
      const ox = (c % cols) * (W + 1), oy = Math.floor(c / cols) * (H + 1);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const rgb = sc.rgb(f.a[c * H * W + y * W + x]), o = 4 * ((oy + y) * cw + ox + x);
        img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  };
  return { canvas, draw };
}

// Raster (spikes) and vector streams: neurons down, time across; the line
// marks the current frame.
function rasterView(s, box) {
  const N = s.frameSize, maxRows = 600;
  const rows = Math.min(N, maxRows);
  const canvas = el('canvas', { class: 'raster', height: rows, width: 1 });
  box.append(canvas);
  const ctx = canvas.getContext('2d');
  let base = null, baseFrames = -1;
  const rebuild = () => {
    const T = Math.max(1, s.frameList.length);
    canvas.width = T;
    canvas.style.width = Math.min(900, Math.max(300, T * Math.max(1, Math.floor(900 / T)))) + 'px';
    canvas.style.height = Math.max(120, Math.min(600, rows * Math.max(1, Math.floor(300 / rows)))) + 'px';
    const img = ctx.createImageData(T, rows);
    const spikes = s.kind === 'raster', sc = colorScale(s.lo, s.hi);
    for (let t = 0; t < s.frameList.length; t++) {
      const a = s.frameList[t].a;
      for (let r = 0; r < rows; r++) {
        const v = a[Math.floor((r * N) / rows)], o = 4 * (r * T + t);
        const rgb = spikes ? (v > 0 ? [20, 24, 32] : [255, 255, 255]) : sc.rgb(v);
        img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
      }
    }
    base = img;
    baseFrames = s.frameList.length;
  };
  const draw = (i) => {
    if (baseFrames !== s.frameList.length) rebuild();
    ctx.putImageData(base, 0, 0);
    ctx.fillStyle = 'rgba(214, 39, 40, 0.85)';
    ctx.fillRect(i, 0, 1, rows);
  };
  if (N > maxRows) box.append(el('div', { class: 'muted', text: `${maxRows} of ${N} rows shown` }));
  return { canvas, draw };
}

const viewers = new Map(); // "run/stream" -> viewer

function streamViewer(run, s, body) {
  const id = run.name + '/' + s.name;
  const card = el('div', { class: 'viewer card' });
  const shape = s.frame_shape.join(' x ');
  card.append(el('h3', { text: (DATA.runs.length > 1 ? run.name + ' / ' : '') + s.name }));
  const meta = el('div', { class: 'meta' });
  card.append(meta);
  const box = el('div');
  card.append(box);
  const view = s.kind === 'grid3d' ? grid3dView(s, box) : s.kind === 'map2d' || s.kind === 'image' ? heatView(s, box) : rasterView(s, box);
  const play = el('button', { text: 'play' }), slider = el('input', { type: 'range', min: 0, max: 0, value: 0, step: 1 });
  const label = el('span'), speed = el('select', {}, ...[2, 5, 10, 25, 50].map((f) => el('option', { value: f, text: f + ' fps' })));
  speed.value = '10';
  card.append(el('div', { class: 'controls' }, play, slider, label, speed));
  const bar = el('div');
  card.append(bar);
  body.append(card);
  let timer = null;
  const v = { id, kind: s.kind, stream: s, canvas: view.canvas, frame: 0, follow: true };
  const show = (i) => {
    const n = s.frameList.length;
    i = Math.max(0, Math.min(n - 1, i | 0));
    v.frame = i;
    slider.max = Math.max(0, n - 1);
    slider.value = i;
    const f = s.frameList[i];
    label.textContent = f ? `t = ${fmt(f.t * s.dt)} ${s.time_unit} (frame ${i + 1}/${n})` : 'no frames yet';
    meta.textContent = `${s.kind}, frame ${shape}, ${s.frames} frames` + (s.stride > 1 ? `, every ${s.stride}th shown` : '') +
      (s.labels ? ', ' + JSON.stringify(s.labels) : '');
    bar.replaceChildren(s.kind === 'raster' ? el('span') : colorbar(colorScale(s.lo, s.hi)));
    view.draw(i);
  };
  const stop = () => { clearInterval(timer); timer = null; play.textContent = 'play'; };
  play.addEventListener('click', () => {
    if (timer) return stop();
    play.textContent = 'pause';
    timer = setInterval(() => show(v.frame + 1 >= s.frameList.length ? 0 : v.frame + 1), 1000 / Number(speed.value));
  });
  speed.addEventListener('change', () => { if (timer) { stop(); play.click(); } });
  slider.addEventListener('input', () => { v.follow = Number(slider.value) === s.frameList.length - 1; show(Number(slider.value)); });
  v.setFrame = (i) => { slider.value = i; slider.dispatchEvent(new Event('input')); };
  v.update = () => show(v.follow ? s.frameList.length - 1 : v.frame);
  v.frames = () => s.frameList.length;
  show(0);
  viewers.set(id, v);
  nd.viewers.push(v);
  return v;
}

function renderStreams(runs) {
  const all = runs.flatMap((r) => r.streams.map((s) => [r, s]));
  if (!all.length && !DATA.live) return;
  const body = section('streams', 'Recorded states');
  body.querySelector('.empty')?.remove();
  for (const [run, s] of all) if (!viewers.has(run.name + '/' + s.name)) streamViewer(run, s, body);
  if (!all.length && !body.children.length) body.append(el('p', { class: 'empty', text: 'no recorded streams (yet)' }));
}

// ------------------------------------------------------------ the page

const runs = DATA.runs;
function renderAll() {
  document.getElementById('nd-title').textContent = runs.map((r) => r.name).join(', ');
  renderConfig(runs);
  renderMetrics(runs);
  renderPngs(runs);
  renderStreams(runs);
}

for (const r of runs) for (const s of r.streams) prepareStream(s);

// Live: everything arrives as events, from the start of the run on each
// (re)connection ("hello" resets the page's copy).
function live() {
  const status = document.getElementById('nd-status');
  const run = runs[0];
  let pending = null;
  const later = (fn) => { if (!pending) pending = setTimeout(() => { pending = null; fn(); }, 250); };
  const es = new EventSource('events');
  const on = (type, fn) => es.addEventListener(type, (e) => { nd.events++; fn(JSON.parse(e.data)); });
  on('hello', (h) => {
    Object.assign(run, emptyRun(h.name || run.name));
    for (const st of plotState.values()) st.plot.destroy();
    plotState.clear();
    nd.plots.length = 0;
    sections.metrics?.replaceChildren();
    for (const v of viewers.values()) v.canvas.closest('.viewer').remove();
    viewers.clear();
    nd.viewers.length = 0;
    status.textContent = 'live: ' + (h.dir || 'waiting for the run directory');
    status.className = 'live';
    renderAll();
  });
  on('config', (c) => { run.config = c; renderConfig(runs); });
  on('metrics', (line) => {
    const m = run.metrics, f = flatten(line);
    for (const k of Object.keys(f)) if (!m.keys.includes(k)) { m.keys.push(k); m.columns[k] = new Array(m.n).fill(null); }
    for (const k of m.keys) m.columns[k].push(k in f ? f[k] : null);
    m.n++;
    later(() => renderMetrics(runs));
  });
  on('png', (p) => {
    const i = run.pngs.findIndex((q) => q.name === p.name), e = { name: p.name, src: 'file/' + encodeURIComponent(p.name) + '?v=' + p.version };
    if (i >= 0) run.pngs[i] = e; else run.pngs.push(e);
    renderPngs(runs);
  });
  on('stream', (s) => { s.chunks = []; run.streams.push(prepareStream(s)); renderStreams(runs); });
  on('chunk', (c) => {
    const s = run.streams.find((q) => q.name === c.stream);
    if (!s) return;
    addChunk(s, c);
    s.frames = Math.max(s.frames, c.t0 + (c.frames - 1) * c.stride + 1);
    const v = viewers.get(run.name + '/' + s.name);
    if (v) v.update();
  });
  es.addEventListener('error', () => { status.textContent = 'live: disconnected, retrying'; status.className = 'down'; });
}

try {
  renderAll();
  if (DATA.live) live();
} finally {
  nd.ready = true;
}
