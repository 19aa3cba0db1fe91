// Loads report pages in Debian's headless Chromium (puppeteer-core, no
// browser of its own) and checks what a person would see: no console error,
// every metrics plot drawn with the series the run's metrics.jsonl implies,
// every recorded stream's view drawn (the 3-D view differs from its
// background), scrubbing changes the frame; saves screenshots.
//
// usage: node browser_check.mjs --shots DIR [--wait-events N] [--expect-growth] PAGE[=RUN_DIR[,RUN_DIR...]] ...
//   PAGE: a file path or an http:// URL; RUN_DIR(s): the runs whose
//   metrics.jsonl give the expected plots (the page's own data is not trusted
//   for that).  --expect-growth: a live page's plots must gain points
//   (a writer appends to the run meanwhile).  Exit 0 when every check passed, 1 otherwise (each failure
//   printed), 77 when Chromium or puppeteer-core is missing.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
let shots = '.', waitEvents = 0, growth = false, pages = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--shots') shots = args[++i];
  else if (args[i] === '--wait-events') waitEvents = Number(args[++i]);
  else if (args[i] === '--expect-growth') growth = true;
  else pages.push(args[i]);
}
const chromium = process.env.ND_CHROMIUM || '/usr/bin/chromium';
const modules = process.env.ND_NODE_MODULES;
if (!fs.existsSync(chromium)) { console.log(`skipped: no Chromium at ${chromium} (Debian package chromium)`); process.exit(77); }
let puppeteer;
try { puppeteer = require(path.join(modules, 'puppeteer-core')); } catch (e) {
  console.log(`skipped: puppeteer-core not installed in ${modules} (scripts/deps.sh runs npm ci in report/)`);
  process.exit(77);
}

// The plots a run's metrics imply, written apart from report/app.js: every
// numeric field but the x axis (step, else epoch), nested objects as a.b,
// grouped by the name without a train_/test_/val_/valid_/validation_ prefix.
function expectedGroups(runDirs) {
  const groups = new Map();
  for (const dir of runDirs) {
    const file = path.join(dir, 'metrics.jsonl');
    if (!fs.existsSync(file)) continue;
    const keys = new Set();
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
    const walk = (o, pre, depth) => {
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === 'number') keys.add(pre + k);
        else if (Array.isArray(v)) { if (v.length <= 64) v.forEach((e, i) => { if (typeof e === 'number') keys.add(`${pre}${k}[${i}]`); }); }
        else if (v && typeof v === 'object' && depth < 2) walk(v, pre + k + '.', depth + 1);
      }
    };
    for (const l of lines) walk(JSON.parse(l), '', 0);
    for (const k of keys) {
      if (k === 'step' || k === 'epoch') continue;
      const g = k.replace(/^(train|test|val|valid|validation)[_.]/, '');
      groups.set(g, (groups.get(g) || 0) + 1);
    }
  }
  return groups;
}

const failures = [];
const fail = (page, msg) => { failures.push(`${page}: ${msg}`); console.log(`FAIL ${page}: ${msg}`); };

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--allow-file-access-from-files'],
});
fs.mkdirSync(shots, { recursive: true });
let index = 0;
for (const spec of pages) {
  const [where, dirs] = spec.split('=');
  const runDirs = dirs ? dirs.split(',') : [];
  const url = /^https?:/.test(where) ? where : 'file://' + path.resolve(where);
  const tag = `page${index++}`;
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('requestfailed', (r) => { if (!r.url().endsWith('/events')) errors.push('request failed: ' + r.url()); });
  await page.goto(url, { waitUntil: 'load', timeout: 60000 });
  await page.waitForFunction(() => window.ndReport && window.ndReport.ready, { timeout: 30000 });
  if (waitEvents > 0 && /^https?:/.test(where))
    await page.waitForFunction((n) => window.ndReport.events >= n, { timeout: 60000 }, waitEvents).catch(() =>
      fail(where, `fewer than ${waitEvents} server-sent events arrived`));
  await new Promise((r) => setTimeout(r, 800)); // let the live page's renders settle
  // plots: the groups and series the metrics imply, each drawn
  const plots = await page.evaluate(() => window.ndReport.plots.map((p) => {
    const c = p.div.querySelector('canvas'), ctx = c.getContext('2d');
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
    const u = p.uplot;
    const withData = u.data.slice(1).filter((ys) => ys.some((v) => v != null)).length;
    return { group: p.group, series: u.series.length - 1, withData, ink, points: u.data[0].length };
  }));
  const want = expectedGroups(runDirs);
  if (runDirs.length) {
    for (const [g, n] of want) {
      const p = plots.find((q) => q.group === g);
      if (!p) fail(where, `no plot for ${g}`);
      else if (p.series !== n) fail(where, `plot ${g}: ${p.series} series, expected ${n}`);
    }
    for (const p of plots) if (!want.has(p.group)) fail(where, `plot ${p.group} not implied by the metrics`);
  }
  for (const p of plots) {
    if (p.withData !== p.series) fail(where, `plot ${p.group}: ${p.series - p.withData} series without data`);
    if (p.ink < 200) fail(where, `plot ${p.group}: canvas nearly empty (${p.ink} pixels drawn)`);
  }
  // viewers: drawn, and scrubbing changes the frame
  const views = await page.evaluate(async () => {
    const pixels = (c) => {
      const t = document.createElement('canvas');
      t.width = c.width, t.height = c.height;
      const x = t.getContext('2d');
      x.drawImage(c, 0, 0);
      return x.getImageData(0, 0, c.width, c.height).data;
    };
    const summary = (d) => {
      let h = 0, distinct = new Set(), bgDiff = 0;
      const bg = [d[0], d[1], d[2]];
      for (let i = 0; i < d.length; i += 4) {
        h = (h * 31 + d[i] * 7 + d[i + 1] * 3 + d[i + 2]) >>> 0;
        if (distinct.size < 64) distinct.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 30) bgDiff++;
      }
      return { h, distinct: distinct.size, bgDiff };
    };
    const out = [];
    for (const v of window.ndReport.viewers) {
      const n = v.frames();
      v.setFrame(0);
      const a = summary(pixels(v.canvas));
      v.setFrame(Math.floor(n / 2));
      await new Promise((r) => requestAnimationFrame(r));
      const b = summary(pixels(v.canvas));
      out.push({ id: v.id, kind: v.kind, frames: n, first: a, middle: b, shown: v.frame });
    }
    return out;
  });
  const wantViews = runDirs.reduce((n, d) => {
    const ix = path.join(d, 'record', 'index.json');
    return n + (fs.existsSync(ix) ? JSON.parse(fs.readFileSync(ix, 'utf8')).streams.length : 0);
  }, 0);
  if (runDirs.length && views.length !== wantViews) fail(where, `${views.length} viewers, the runs recorded ${wantViews} streams`);
  for (const v of views) {
    if (v.frames < 2) { fail(where, `${v.id}: ${v.frames} frames`); continue; }
    if (v.first.distinct < 3) fail(where, `${v.id}: the view is blank (${v.first.distinct} colours)`);
    if (v.kind === 'grid3d' && v.first.bgDiff < 100) fail(where, `${v.id}: the 3-D view hardly differs from its background (${v.first.bgDiff} pixels)`);
    if (v.first.h === v.middle.h) fail(where, `${v.id}: scrubbing to frame ${v.shown} did not change the picture`);
  }
  if (/^https?:/.test(where) && growth) { // live: lines appended meanwhile reach the plots
    const before = plots.reduce((n, p) => n + p.points, 0);
    await page.waitForFunction((b) => window.ndReport.plots.reduce((n, p) => n + p.uplot.data[0].length, 0) > b,
      { timeout: 20000 }, before).catch(() => fail(where, `no new metrics reached the plots in 20 s (${before} points)`));
  }
  for (const e of errors) fail(where, e);
  await page.evaluate(() => window.ndReport.viewers.forEach((v) => v.setFrame(Math.floor(v.frames() / 3))));
  await page.screenshot({ path: path.join(shots, `${tag}.png`), fullPage: true });
  if (await page.$('#sec-metrics')) { // one screen of the plots, for docs/report.md
    await page.evaluate(() => document.getElementById('sec-metrics').scrollIntoView());
    await page.screenshot({ path: path.join(shots, `${tag}-metrics.png`) });
  }
  const three = await page.$('canvas.three');
  if (three) await (await three.evaluateHandle((c) => c.closest('.viewer'))).screenshot({ path: path.join(shots, `${tag}-3d.png`) });
  console.log(`${where}: ${plots.length} plots (${plots.map((p) => p.group + ':' + p.series).join(' ')}), ` +
    `${views.length} viewers (${views.map((v) => v.kind + ':' + v.frames).join(' ')}), ${errors.length} errors`);
  await page.close();
}
await browser.close();
process.exit(failures.length ? 1 : 0);
