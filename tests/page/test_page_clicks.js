// test_page_clicks.js - the stepping page driven as a student drives it, in
// Debian's chromium through playwright-core (never a downloaded browser):
// the buttons and the arrow keys step, an edited leaf's <input> recomputes
// every value and gradient (checked against `gategrad grad` at the new
// value), the nudge button's Δf ≈ grad · h, and a click on a leaf shows its
// paths with their sum.
// Usage: node test_page_clicks.js GATEGRAD [CHROMIUM]
// Run by tests/test_page_clicks.sh, which skips (77) without chromium or
// without node_modules (npm ci in tests/page; tools/setup.sh --ci does it).
'use strict';
const {execFileSync} = require('child_process');
const fs = require('fs'), os = require('os'), path = require('path');
const {chromium} = require('playwright-core');

const bin = process.argv[2], browserPath = process.argv[3] || '/usr/bin/chromium';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gg_page_clicks.'));
let failures = 0, checks = 0;

function fail(msg) { console.log('FAIL: ' + msg); failures++; }
function expectEq(what, got, want) {
  checks++;
  if (got !== want) fail(what + ': got ' + JSON.stringify(got) + ', expected ' + JSON.stringify(want));
}
// The page writes 8 significant digits, `gategrad grad` 10.
function expectNear(what, got, want, rel) {
  checks++;
  const tol = (rel || 2e-8) * Math.max(1, Math.abs(want));
  if (!(Math.abs(got - want) <= tol)) fail(what + ': got ' + got + ', expected ' + want);
}

// `gategrad grad EXPR NAME=VALUE...`: f and df/dNAME.
function grad(expr, vals) {
  const out = execFileSync(bin, ['grad', expr, ...Object.entries(vals).map(([k, v]) => k + '=' + v)], {encoding: 'utf8'});
  const r = {grad: {}};
  out.split('\n').forEach(line => {
    let m = /^f = (\S+)$/.exec(line);
    if (m) r.f = parseFloat(m[1]);
    m = /^df\/d(\S+) = (\S+)$/.exec(line);
    if (m) r.grad[m[1]] = parseFloat(m[2]);
  });
  return r;
}

function number(text, what) {
  const v = parseFloat(text);
  if (Number.isNaN(v)) fail(what + ': not a number: ' + JSON.stringify(text));
  return v;
}

const cases = [
  {expr: '2 * (x*y + max(z, w))', vals: {x: 3, y: -4, z: 2, w: -1}, gates: 4, edit: ['z', -3], paths: {x: 1, w: 1}},
  {expr: 'sigmoid(w0*x0 + w1*x1 + w2)', vals: {w0: 2, x0: -1, w1: -3, x1: -2, w2: -3}, gates: 5, edit: ['w0', 0.5],
   paths: {x1: 1}},
  {expr: 'x*y + x', vals: {x: 3, y: 4}, gates: 2, edit: ['x', -1.25], paths: {x: 2, y: 1}},
];

async function check(page, c) {
  const file = path.join(tmp, 'page.html');
  execFileSync(bin, ['html', c.expr, ...Object.entries(c.vals).map(([k, v]) => k + '=' + v), '-o', file]);
  await page.goto('file://' + file);
  const idx = await page.evaluate(() => {
    const D = JSON.parse(document.getElementById('gg-data').textContent), m = {};
    D.nodes.forEach((n, j) => { if (n.kind === 'var') m[n.name] = j; });
    return m;
  });
  const G = c.gates, where = () => page.textContent('#gg-where');
  const gradOf = async name => number((await page.textContent('#ng' + idx[name])).replace(/^grad /, ''), c.expr + ': grad of ' + name);

  // The buttons.
  expectEq(c.expr + ': at load', await where(), 'start 0/' + 2 * G);
  expectEq(c.expr + ': no output at 0', await page.textContent('#ev-out'), '');
  await page.click('#gg-next');
  expectEq(c.expr + ': next', await where(), 'forward 1/' + G);
  for (let i = 1; i < G; i++) await page.click('#gg-next');
  expectEq(c.expr + ': next x' + G, await where(), 'forward ' + G + '/' + G);
  await page.click('#gg-next');
  expectEq(c.expr + ': next into backward', await where(), 'backward 1/' + G);
  const pending = await page.evaluate(ids => Object.values(ids).filter(j =>
    document.getElementById('ng' + j).textContent === 'not yet computed').length, idx);
  checks++;
  if (!(pending > 0)) fail(c.expr + ': at backward 1 every leaf has its gradient already');
  await page.click('#gg-back');
  expectEq(c.expr + ': back', await where(), 'forward ' + G + '/' + G);
  await page.click('#gg-last');
  expectEq(c.expr + ': last', await where(), 'backward ' + G + '/' + G);
  const before = grad(c.expr, c.vals);
  for (const name of Object.keys(c.vals))
    expectNear(c.expr + ': d/d' + name + ' at the last step', await gradOf(name), before.grad[name]);
  expectNear(c.expr + ': f', number(await page.textContent('#ev-out'), 'f'), before.f);
  await page.click('#gg-first');
  expectEq(c.expr + ': first', await where(), 'start 0/' + 2 * G);

  // The keys (with no input focused).
  await page.click('#gg-where');
  await page.keyboard.press('ArrowRight');
  expectEq(c.expr + ': ArrowRight', await where(), 'forward 1/' + G);
  await page.keyboard.press(' ');
  expectEq(c.expr + ': space', await where(), 'forward 2/' + G);
  await page.keyboard.press('ArrowLeft');
  expectEq(c.expr + ': ArrowLeft', await where(), 'forward 1/' + G);
  await page.keyboard.press('End');
  expectEq(c.expr + ': End', await where(), 'backward ' + G + '/' + G);
  await page.keyboard.press('Home');
  expectEq(c.expr + ': Home', await where(), 'start 0/' + 2 * G);

  // Edit a leaf: every value and gradient recomputed, as C computes them.
  const [name, value] = c.edit, vals = Object.assign({}, c.vals, {[name]: value});
  await page.fill('#in' + idx[name], String(value));
  await page.click('#gg-last');
  const after = grad(c.expr, vals);
  expectNear(c.expr + ': f after ' + name + ' = ' + value, number(await page.textContent('#ev-out'), 'f'), after.f);
  expectNear(c.expr + ': ' + name + "'s value shown", number(await page.textContent('#nv' + idx[name]), name), value);
  for (const n of Object.keys(vals))
    expectNear(c.expr + ': d/d' + n + ' after ' + name + ' = ' + value, await gradOf(n), after.grad[n]);
  if (JSON.stringify(after.grad) === JSON.stringify(before.grad)) fail(c.expr + ': the edit changed no gradient');

  // Nudge: the numerical check, Δf ≈ grad · h, at the edited values.
  for (const n of Object.keys(vals)) {
    await page.click('#nudge' + idx[n]);
    const text = await page.textContent('#gg-nudge');
    const m = / (\S+) \+= h = (\S+) \u2192 \u0394f = (\S+) \u2248 grad \u00b7 h = (\S+) \u00b7 (\S+) = (\S+)$/.exec(text);
    if (!m) { fail(c.expr + ': nudge ' + n + ': ' + JSON.stringify(text)); continue; }
    const h = number(m[2], 'h'), df = number(m[3], 'df'), g = number(m[4], 'grad');
    expectEq(c.expr + ': nudge names its leaf', m[1], n);
    expectNear(c.expr + ': nudge ' + n + ': h', h, 1e-4 * Math.max(1, Math.abs(vals[n])), 1e-7);
    expectNear(c.expr + ': nudge ' + n + ': grad', g, after.grad[n]);
    checks++;
    if (!(Math.abs(df - g * h) <= 1e-3 * Math.abs(g * h) + 1e-12))
      fail(c.expr + ': nudge ' + n + ': df ' + df + ' is not grad * h ' + g * h);
  }

  // Click a leaf: its paths to the output, each a product, and their sum.
  for (const [n, count] of Object.entries(c.paths)) {
    await page.click('#n' + idx[n]);
    const text = await page.textContent('#gg-paths');
    checks++;
    if (!text.includes('\u2202f/\u2202' + n)) fail(c.expr + ': paths of ' + n + ': ' + text);
    expectEq(c.expr + ': paths of ' + n, (text.match(/path \d+: /g) || []).length, count);
    const m = /sum over paths = (\S+) = (\S+)\.grad (\S+)/.exec(text);
    if (!m) { fail(c.expr + ': no sum over paths for ' + n + ': ' + text); continue; }
    expectNear(c.expr + ': sum over paths of ' + n, number(m[1], 'sum'), after.grad[n]);
    expectEq(c.expr + ': the sum is ' + n + "'s", m[2], n);
    checks++;
    if (!(await page.locator('.wire.path').count() > 0)) fail(c.expr + ': no wire marked on the paths of ' + n);
    await page.click('#n' + idx[n]); // a second click hides them
    checks++;
    if ((await page.textContent('#gg-paths')).includes('sum over paths')) fail(c.expr + ': paths of ' + n + ' not hidden');
  }
}

(async () => {
  const browser = await chromium.launch({executablePath: browserPath, args: ['--no-sandbox']});
  try {
    const page = await browser.newPage();
    for (const c of cases) await check(page, c);
  } finally {
    await browser.close();
    fs.rmSync(tmp, {recursive: true, force: true});
  }
  console.log(checks + ' checks, ' + failures + ' failures');
  process.exit(failures ? 1 : 0);
})().catch(e => { console.log('FAIL: ' + (e && e.stack || e)); process.exit(1); });
