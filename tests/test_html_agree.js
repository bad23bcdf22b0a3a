// test_html_agree.js - C and the page agree: for every lecture example and
// for random expressions, the page's own script (run here by node, as the
// browser would run it) recomputes from the gate table's formulas exactly
// what C recorded: every value, every gradient, what every wire carried;
// and after a leaf is "edited", what C computes for the new values.
// Usage: node test_html_agree.js GATEGRAD_BINARY
'use strict';
const {execFileSync} = require('child_process');
const fs = require('fs'), os = require('os'), path = require('path'), vm = require('vm');

const bin = process.argv[2];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gg_html_agree.'));
let failures = 0, checked = 0;

function fail(msg) { console.log('FAIL: ' + msg); failures++; }

function html(args) {
  const out = path.join(tmp, 'page.html');
  execFileSync(bin, ['html', ...args, '-o', out]);
  return fs.readFileSync(out, 'utf8');
}

// The page's data and its script, evaluated as a browser would (no DOM: the
// script then only defines its functions).
function load(text) {
  const data = /<script type="application\/json" id="gg-data">\n([\s\S]*?)<\/script>/.exec(text);
  if (!data) throw new Error('no gg-data script');
  const scripts = [...text.matchAll(/<script>\n([\s\S]*?)<\/script>/g)].map(m => m[1]);
  if (scripts.length !== 2) throw new Error('expected 2 scripts, got ' + scripts.length);
  const ctx = vm.createContext({Math: Math});
  scripts.forEach(s => vm.runInContext(s, ctx));
  return {D: JSON.parse(data[1]), ctx: ctx};
}

function N(v) {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return v;
}

function same(a, b) {
  a = N(a); b = N(b);
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  return Math.abs(a - b) <= 1e-12 + 1e-10 * Math.abs(b);
}

// What C recorded: values, the last gradient of each node, each wire's share.
function recorded(D) {
  const v = D.nodes.map(n => N(n.value)), g = D.nodes.map(() => 0), c = D.nodes.map(() => []);
  g[D.root] = D.nodes[D.root].ng ? 1 : 0; // a leaf root: no gate passes anything back
  D.steps.forEach(s => {
    if (s.k !== 'b') return;
    s.g.forEach(r => { g[r[0]] = N(r[1]); });
    s.c.forEach((x, o) => { c[s.n][o] = x === null ? null : N(x); });
  });
  return {v, g, c};
}

function compare(what, E, C, D) {
  D.nodes.forEach((n, i) => {
    checked++;
    if (!same(E.v[i], C.v[i])) fail(`${what}: value of ${n.name}: page ${E.v[i]}, C ${C.v[i]}`);
    if (n.ng && !same(E.g[i], C.g[i])) fail(`${what}: gradient of ${n.name}: page ${E.g[i]}, C ${C.g[i]}`);
    (n.in || []).forEach((x, o) => {
      const a = E.c[i][o] ?? null, b = C.c[i][o] ?? null; // null: the wire carries nothing back
      if ((a === null) !== (b === null) || (a !== null && !same(a, b)))
        fail(`${what}: wire ${o} of ${n.name}: page ${a}, C ${b}`);
    });
  });
}

// One page: the recorded state, then every variable leaf moved and compared
// with C's page for the moved values.
function check(what, args, assigns) {
  const {D, ctx} = load(html([...args, ...assigns]));
  if (!D.editable) { fail(`${what}: not editable`); return; }
  const E = ctx.ggCompute(D, null);
  compare(what, E, recorded(D), D);
  // The paths view: the products of local derivatives over every path from
  // a leaf sum to its gradient (what gg_explain writes).
  D.nodes.forEach((n, j) => {
    if (n.kind !== 'var') return;
    const P = ctx.ggPaths(D, j, 1e9);
    const sum = P.paths.reduce((acc, p) => acc + p.reduce((m, e) => m * E.l[e[0]][e[1]], 1), 0);
    checked++;
    if (P.count !== P.paths.length || !same(sum, E.g[j]))
      fail(`${what}: paths of ${n.name}: ${P.count} paths sum to ${sum}, gradient ${E.g[j]}`);
  });
  if (!assigns.length) return;
  const moved = assigns.map((a, k) => {
    const [name, value] = a.split('=');
    return name + '=' + (parseFloat(value) * 0.7 + 0.3 * (k + 1) - 0.45);
  });
  const edit = {};
  moved.forEach(a => {
    const [name, value] = a.split('=');
    const i = D.nodes.findIndex(n => n.name === name && n.kind === 'var');
    if (i < 0) fail(`${what}: no leaf ${name}`); else edit[i] = parseFloat(value);
  });
  const after = load(html([...args, ...moved])).D;
  compare(what + ' (edited)', ctx.ggCompute(D, edit), recorded(after), after);
}

const examples = {
  circuit: ['q = x + y; f = q * z', 'x=-2 y=5 z=-4'],
  gates: ['xy = x * y; m = max(z, w); s = xy + m; f = 2 * s', 'x=3 y=-4 z=2 w=-1'],
  neuron: ['w0x0 = w0 * x0; w1x1 = w1 * x1; dot = w0x0 + w1x1 + w2; f = sigmoid(dot)',
           'w0=2 x0=-1 w1=-3 x1=-2 w2=-3'],
  shopping: ['apples = apple * apple_count; oranges = orange * orange_count; total = apples + oranges; price = total * tax',
             'apple=100 apple_count=2 orange=150 orange_count=3 tax=1.1'],
  'two-layer': ['z1 = w1*x1 + w2*x2; z2 = w3*x1 + w4*x2; h1 = sigmoid(z1); h2 = sigmoid(z2)\n' +
                'z3 = w5*h1 + w6*h2; z4 = w7*h1 + w8*h2; o1 = sigmoid(z3); o2 = sigmoid(z4)\n' +
                'E = 0.5*(0.4 - o1)^2 + 0.5*(0.6 - o2)^2',
                'x1=0.1 x2=0.2 w1=0.3 w2=0.25 w3=0.4 w4=0.35 w5=0.45 w6=0.4 w7=0.7 w8=0.6'],
};
for (const name of Object.keys(examples)) {
  // The command's own example, then the same program with its values moved.
  const {D, ctx} = load(html(['--example', name]));
  compare(name, ctx.ggCompute(D, null), recorded(D), D);
  // The nudge button: x += h moves the root by about grad * h (smooth examples).
  D.nodes.forEach((n, j) => {
    if (n.kind !== 'var') return;
    const r = ctx.ggNudge(D, null, j);
    checked++;
    if (!(Math.abs(r.df - r.grad * r.h) <= 1e-3 * Math.abs(r.grad * r.h) + 1e-12))
      fail(`${name}: nudge ${n.name}: df ${r.df}, grad * h ${r.grad * r.h}`);
  });
  const [prog, vars] = examples[name];
  check(name + ' as a program', [prog], vars.split(' '));
}
// vectorized: tensors, recorded numbers only.
{
  const {D} = load(html(['--example', 'vectorized']));
  if (D.editable) fail('vectorized: editable although it holds tensors');
  const W = D.nodes.find(n => n.name === 'W'), last = recorded(D);
  const gW = last.g[D.nodes.indexOf(W)];
  [0.088, 0.176, 0.104, 0.208].forEach((x, k) => { if (!same(gW[k], x)) fail(`vectorized: dW[${k}] = ${gW[k]}`); });
}

// Random expressions over every elementwise gate the language has.
let seed = 12345;
function rnd() { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; }
function pick(a) { return a[Math.floor(rnd() * a.length)]; }
function expr(depth) {
  if (depth === 0 || rnd() < 0.25) return rnd() < 0.8 ? pick(['a', 'b', 'c']) : (Math.floor(rnd() * 9) - 4) / 2 + '';
  const e = () => expr(depth - 1);
  const forms = [
    () => `(${e()} + ${e()})`, () => `(${e()} - ${e()})`, () => `(${e()} * ${e()})`,
    () => `(${e()} / (abs(${e()}) + 1))`, () => `max(${e()}, ${e()})`, () => `min(${e()}, ${e()})`,
    () => `sigmoid(${e()})`, () => `tanh(${e()})`, () => `exp(tanh(${e()}))`,
    () => `log(abs(${e()}) + 0.5)`, () => `relu(${e()})`, () => `abs(${e()})`,
    () => `sqrt(abs(${e()}) + 0.25)`, () => `sin(${e()})`, () => `cos(${e()})`,
    () => `softplus(${e()})`, () => `silu(${e()})`, () => `gelu(${e()})`, () => `-${e()}`,
    () => `(${e()})^2`, () => `(${e()})^3`, () => `pow(abs(${e()}) + 0.5, tanh(${e()}))`,
  ];
  return pick(forms)();
}
for (let k = 0; k < 60; k++) {
  const ex = expr(4), vals = ['a', 'b', 'c'].map(v => v + '=' + ((rnd() * 6 - 3).toFixed(3)));
  const used = vals.filter(a => new RegExp('\\b' + a[0] + '\\b').test(ex));
  try {
    check('random ' + ex, [ex], used);
  } catch (err) {
    fail('random ' + ex + ': ' + err.message);
  }
}

fs.rmSync(tmp, {recursive: true, force: true});
console.log(`${checked} nodes compared, ${failures} failures`);
process.exit(failures ? 1 : 0);
