// html_page.js - the stepping page's script, embedded by html.c after the
// JSON data (#gg-data) and the gate formulas (GG_FN, from the gate table).
// It draws the circuit laid out by C, steps forward and backward, and,
// when every gate has its formulas here, recomputes after a leaf is edited.
// It builds every element with textContent: no data ever becomes markup.
'use strict';

var GG_WORDS = {
  en: {
    start: 'start', forward: 'forward', backward: 'backward',
    pending: 'not yet computed', nograd: 'no gradient (constant)',
    legend: ['value above each wire (light green)', 'gradient below (red)'],
    keys: '\u2190 \u2192 or space to step; #step=N links to a step',
    intro: 'Nothing is computed yet. Step forward to run the gates one by one, then backward to pass the gradient from the output to the inputs.',
    fwdcard: 'forward', inputs: 'Inputs', edited: 'recomputed in the page from the gate table\u2019s formulas',
    noedit: 'recorded numbers only, not editable (this graph has gates whose formulas the page does not have)',
    upstream: 'upstream', local: 'local', downstream: 'downstream', receives: 'receives', from: 'from', sofar: 'so far',
    more: 'more to come', total: 'total', routed: '0: routed to the other input', shape: 'shape',
    gradsum: 'gradient adder: a value used by several gates receives the sum',
    done: 'Every gradient has arrived.', edit: 'edit a value: everything is recomputed',
    nudge: 'nudge', nudged: 'numerical check', paths: 'paths', pathsof: 'the chain rule, path by path',
    pathhelp: 'click a leaf to see every path to the output', sumpaths: 'sum over paths', path: 'path',
    notshown: 'more paths, summed but not shown'
  },
  ko: {
    start: '\uc2dc\uc791', forward: '\uc21c\uc804\ud30c', backward: '\uc5ed\uc804\ud30c',
    pending: '\uc544\uc9c1 \uacc4\uc0b0\ub418\uc9c0 \uc54a\uc74c', nograd: 'gradient \uc5c6\uc74c (\uc0c1\uc218)',
    legend: ['\uc5f0\ub450: \uc785\ub825\uac12', '\ube68\uac15: gradient'],
    keys: '\u2190 \u2192 \ub610\ub294 \uc2a4\ud398\uc774\uc2a4\ub85c \ud55c \ub2e8\uacc4\uc529; #step=N\uc740 \uadf8 \ub2e8\uacc4\ub85c \uac11\ub2c8\ub2e4',
    intro: '\uc544\uc9c1 \uc544\ubb34\uac83\ub3c4 \uacc4\uc0b0\ub418\uc9c0 \uc54a\uc558\uc2b5\ub2c8\ub2e4. \uc21c\uc804\ud30c\ub85c \uac8c\uc774\ud2b8\ub97c \ud558\ub098\uc529 \uacc4\uc0b0\ud558\uace0, \uc5ed\uc804\ud30c\ub85c \ucd9c\ub825\uc5d0\uc11c \uc785\ub825\uae4c\uc9c0 gradient\ub97c \uc804\ub2ec\ud569\ub2c8\ub2e4.',
    fwdcard: '\uc21c\uc804\ud30c', inputs: '\uc785\ub825\uac12', edited: '\uac8c\uc774\ud2b8 \ud45c\uc758 \uc2dd\uc73c\ub85c \ud398\uc774\uc9c0\uc5d0\uc11c \ub2e4\uc2dc \uacc4\uc0b0\ud568',
    noedit: '\uae30\ub85d\ub41c \uac12\ub9cc \ubcf4\uc5ec\uc90c (\uc774 \uadf8\ub798\ud504\uc758 \uc77c\ubd80 \uac8c\uc774\ud2b8\ub294 \uc2dd\uc774 \uc5c6\uc5b4 \uc218\uc815\ud560 \uc218 \uc5c6\uc74c)',
    upstream: 'upstream gradient', local: 'local gradient', downstream: 'downstream gradient', receives: '\ubc1b\uc74c', from: '\uc5d0\uc11c', sofar: '\uc9c0\uae08\uae4c\uc9c0',
    more: '\uc544\uc9c1 \uc62c \uac83\uc774 \uc788\uc74c', total: '\ud569', routed: '0: \ub2e4\ub978 \uc785\ub825\uc73c\ub85c \ub77c\uc6b0\ud305\ub428', shape: 'shape',
    gradsum: 'gradient adder: \uc5ec\ub7ec \uac8c\uc774\ud2b8\uc5d0 \uc4f0\uc778 \uac12\uc740 gradient\ub97c \ubaa8\ub450 \ub354\ud574 \ubc1b\uc74c',
    done: '\ubaa8\ub4e0 gradient\uac00 \ub3c4\ucc29\ud588\uc2b5\ub2c8\ub2e4.', edit: '\uac12\uc744 \ubc14\uafb8\uba74 \ubaa8\ub450 \ub2e4\uc2dc \uacc4\uc0b0\ub429\ub2c8\ub2e4',
    nudge: 'nudge', nudged: '\uc218\uce58 \ubbf8\ubd84 \ud655\uc778', paths: 'paths', pathsof: 'chain rule: \uacbd\ub85c\ub9c8\ub2e4 local gradient\uc758 \uacf1',
    pathhelp: '\uc785\ub825\uac12\uc744 \ud074\ub9ad\ud558\uba74 \ucd9c\ub825\uae4c\uc9c0\uc758 \ubaa8\ub4e0 \uacbd\ub85c\ub97c \ubd05\ub2c8\ub2e4', sumpaths: '\uacbd\ub85c\uc758 \ud569', path: '\uacbd\ub85c',
    notshown: '\ub354 \ub9ce\uc740 \uacbd\ub85c (\ud569\uc5d0\ub294 \ud3ec\ud568)'
  }
};

function ggNum(v) {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (Array.isArray(v)) return v.map(ggNum);
  return v;
}

// Numbers as the trace writes them: 8 significant digits, NaN and inf as such.
function ggFmt(v) {
  if (v === null || v === undefined) return '?';
  if (typeof v !== 'number') return String(v);
  if (isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (v === 0) return '0';
  var s = v.toPrecision(8), e = s.indexOf('e');
  var m = e < 0 ? s : s.slice(0, e), x = e < 0 ? '' : s.slice(e);
  if (m.indexOf('.') >= 0) m = m.replace(/0+$/, '').replace(/\.$/, '');
  if (x) x = x.replace(/^e([+-])(\d)$/, 'e$10$2');
  return m + x;
}

// erf for gelu (C's erf): the Taylor series near 0, a continued fraction beyond.
function ggErf(x) {
  var ax = Math.abs(x), r;
  if (ax < 3) {
    var term = ax, sum = ax, x2 = ax * ax;
    for (var n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= -x2 / n;
      sum += term / (2 * n + 1);
    }
    r = sum * 2 / Math.sqrt(Math.PI);
  } else {
    var t = ax;
    for (var k = 80; k >= 1; k--) t = ax + (k / 2) / t;
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / t;
  }
  return x < 0 ? -r : r;
}

// Values, gradients and what each wire carries, from the leaves' values,
// with the gate table's formulas (GG_FN): scalar graphs of elementwise gates.
// leaf: index -> value for the leaves given (the others keep their own).
function ggCompute(D, leaf) {
  var N = D.nodes, v = [], g = [], c = [], l = [], i, k, n, F;
  for (i = 0; i < N.length; i++) {
    n = N[i];
    if (n.kind !== 'gate') {
      v[i] = leaf && leaf[i] !== undefined ? leaf[i] : ggNum(n.value);
      continue;
    }
    F = GG_FN[n.gate];
    v[i] = n.in.length === 1 ? F.f(v[n.in[0]], ggNum(n.param)) : F.f(v[n.in[0]], v[n.in[1]]);
  }
  for (i = 0; i < N.length; i++) { g[i] = 0; c[i] = []; l[i] = []; }
  g[D.root] = N[D.root].ng ? 1 : 0;
  for (i = D.root; i >= 0; i--) {
    n = N[i];
    if (n.kind !== 'gate' || !n.ng) continue;
    F = GG_FN[n.gate];
    var d = [];
    for (k = 0; k < n.in.length; k++)
      d[k] = n.in.length === 1 ? F.d[0](v[n.in[0]], v[i], ggNum(n.param))
                               : F.d[k](v[n.in[0]], v[n.in[1]], v[i]);
    l[i] = d;
    for (k = 0; k < n.in.length; k++) {
      if (!N[n.in[k]].ng) { c[i][k] = null; continue; }
      c[i][k] = g[i] * d[k];
      g[n.in[k]] += c[i][k];
    }
  }
  return {v: v, g: g, c: c, l: l};
}

// The numerical check of leaf j's gradient: x += h, and the root's change
// beside grad * h.
function ggNudge(D, edited, j) {
  var E0 = ggCompute(D, edited), x0 = E0.v[j], h = 1e-4 * Math.max(1, Math.abs(x0)), moved = {};
  for (var q in edited || {}) moved[q] = edited[q];
  moved[j] = x0 + h;
  return {h: h, df: ggCompute(D, moved).v[D.root] - E0.v[D.root], grad: E0.g[j]};
}

// Every path from leaf j up to the root, each as its wires [consumer, operand]
// (at most max paths; count has them all).
function ggPaths(D, j, max) {
  var N = D.nodes, users = N.map(function () { return []; }), out = [], count = 0;
  N.forEach(function (n, i) { (n.in || []).forEach(function (x, o) { users[x].push([i, o]); }); });
  var stack = [[j, []]];
  while (stack.length) {
    var top = stack.pop(), at = top[0], path = top[1];
    if (at === D.root) { count++; if (out.length < max) out.push(path); continue; }
    for (var u = users[at].length - 1; u >= 0; u--)
      if (N[users[at][u][0]].ng) stack.push([users[at][u][0], path.concat([users[at][u]])]);
  }
  return {paths: out, count: count};
}

if (typeof module !== 'undefined') module.exports = {ggCompute: ggCompute, ggPaths: ggPaths, ggNudge: ggNudge, ggFmt: ggFmt, ggNum: ggNum};

function ggPage() {
  var D = JSON.parse(document.getElementById('gg-data').textContent);
  var W = GG_WORDS[D.lang] || GG_WORDS.en, N = D.nodes, S = D.steps;
  var F = 0, B = 0, i, k;
  S.forEach(function (s) { if (s.k === 'f') F++; else B++; });
  var fstep = [], bstep = [];           // the step at which a node is computed / passes back
  N.forEach(function (n, j) { fstep[j] = n.kind === 'gate' ? Infinity : 0; bstep[j] = Infinity; });
  S.forEach(function (s, j) { if (s.k === 'f') fstep[s.n] = Math.min(fstep[s.n], j + 1); else bstep[s.n] = j + 1; });
  var users = N.map(function () { return []; });   // [consumer, operand] of each node
  N.forEach(function (n, j) { (n.in || []).forEach(function (x, o) { users[x].push([j, o]); }); });
  users.forEach(function (u) { u.sort(function (p, q) { return bstep[p[0]] - bstep[q[0]]; }); }); // in arrival order
  var edited = null, pathLeaf = -1, step = 0, svgNS = 'http://www.w3.org/2000/svg';

  function el(tag, attrs, text, parent, ns) {
    var e = ns ? document.createElementNS(svgNS, tag) : document.createElement(tag);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (text !== undefined && text !== null) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function sv(tag, attrs, text, parent) { return el(tag, attrs, text, parent, true); }

  document.title = D.title;
  document.getElementById('gg-title').textContent = D.title;
  var lg = document.getElementById('gg-legend');
  el('span', {'class': 'v'}, W.legend[0], lg);
  lg.appendChild(document.createTextNode(' \u00b7 '));
  el('span', {'class': 'g'}, W.legend[1], lg);
  document.getElementById('gg-keys').textContent = W.keys;

  // ---- drawing ----
  var maxX = 0, maxY = 0;
  N.forEach(function (n) { maxX = Math.max(maxX, n.x + n.w); maxY = Math.max(maxY, n.y + n.h); });
  // Scaled down to the window's width, never up; wider graphs scroll.
  var vw = maxX + 190, vh = maxY + 40;
  var svg = sv('svg', {viewBox: '0 0 ' + vw + ' ' + vh, width: '100%', id: 'gg-svg',
    style: 'max-width: ' + vw + 'px; min-width: ' + Math.round(Math.min(vw, Math.max(700, vw * 0.65))) + 'px'}, null, document.getElementById('gg-circuit'));
  var wires = [], parts = [];
  function mid(a, b) { return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]; }
  N.forEach(function (n, j) {
    (n.in || []).forEach(function (x, o) {
      var s = N[x], a = [s.x + s.w, s.y + s.h / 2], b = [n.x, n.y + n.h / 2 + (o - (n.in.length - 1) / 2) * 10];
      var cx = (a[0] + b[0]) / 2, m = mid(a, b);
      var p = sv('path', {'class': 'wire', d: 'M' + a + ' C' + cx + ',' + a[1] + ' ' + cx + ',' + b[1] + ' ' + b}, null, svg);
      var tv = sv('text', {'class': 'val', x: m[0], y: m[1] - 6, 'text-anchor': 'middle', id: 'ev' + j + '_' + o}, '', svg);
      var tg = sv('text', {'class': 'grad', x: m[0], y: m[1] + 16, 'text-anchor': 'middle', id: 'eg' + j + '_' + o}, '', svg);
      var lab = n.wires && n.wires[o] ? sv('text', {'class': 'pending', x: b[0] - 4, y: b[1] - 4, 'text-anchor': 'end'}, n.wires[o], svg) : null;
      wires.push({from: x, to: j, o: o, path: p, tv: tv, tg: tg, lab: lab});
    });
  });
  var R = N[D.root], ra = [R.x + R.w, R.y + R.h / 2], rb = [R.x + R.w + 150, R.y + R.h / 2];
  var rootWire = {path: sv('path', {'class': 'wire', d: 'M' + ra + ' L' + rb}, null, svg),
    tv: sv('text', {'class': 'val', x: ra[0] + 75, y: ra[1] - 6, 'text-anchor': 'middle', id: 'ev-out'}, '', svg),
    tg: sv('text', {'class': 'grad', x: ra[0] + 75, y: ra[1] + 16, 'text-anchor': 'middle', id: 'eg-out'}, '', svg)};

  function heat(grp, n, x0, y0, cls) {
    var cells = [];
    for (var r = 0; r < n.rows; r++)
      for (var q = 0; q < n.cols; q++) {
        var c = sv('rect', {'class': 'cell', x: x0 + q * 14, y: y0 + r * 14, width: 14, height: 14, fill: '#333'}, null, grp);
        cells.push({rect: c, tip: sv('title', {}, '', c)});
      }
    return cells;
  }
  N.forEach(function (n, j) {
    var grp = sv('g', {'class': 'node ' + n.kind, id: 'n' + j}, null, svg), part = {g: grp};
    if (n.kind === 'gate' && n.rank === 0) {
      sv('circle', {'class': 'box', cx: n.x + n.w / 2, cy: n.y + n.h / 2, r: n.w / 2}, null, grp);
      sv('text', {'class': 'gn', x: n.x + n.w / 2, y: n.y + n.h / 2 + 4, 'text-anchor': 'middle'}, n.gate, grp);
      sv('text', {'class': 'nm', x: n.x + n.w / 2, y: n.y - 6, 'text-anchor': 'middle'}, n.name, grp);
    } else {
      sv('rect', {'class': 'box', x: n.x, y: n.y, width: n.w, height: n.h, rx: 7}, null, grp);
      var head = n.kind === 'gate' ? n.gate + ' \u2192 ' + n.name
        : n.kind === 'const' && !n.labelled && !n.rank ? 'const' : n.name;
      sv('text', {'class': 'nm', x: n.x + 8, y: n.y + 16}, head, grp);
      if (n.rank > 0) {
        sv('text', {'class': 'pending', x: n.x + n.w - 6, y: n.y + n.h - 6, 'text-anchor': 'end'}, '[' + n.shape.join(',') + ']', grp);
        if (n.value !== null) {
          part.vcells = heat(grp, n, n.x + 8, n.y + 26);
          part.gcells = heat(grp, n, n.x + 20 + n.cols * 14, n.y + 26);
        } else {
          part.vt = sv('text', {'class': 'val', x: n.x + 8, y: n.y + 34}, '', grp);
          part.gt = sv('text', {'class': 'grad', x: n.x + 8, y: n.y + 48}, '', grp);
        }
      } else {
        part.vt = sv('text', {'class': 'val', x: n.x + 8, y: n.y + 34, id: 'nv' + j}, '', grp);
      }
    }
    if (n.kind === 'var' && D.editable) {
      grp.style.cursor = 'pointer';
      grp.addEventListener('click', function () { pathLeaf = pathLeaf === j ? -1 : j; render(); });
    }
    if (n.rank === 0) part.gt = sv('text', {'class': 'grad', x: n.x + n.w / 2, y: n.y + n.h + 16, 'text-anchor': 'middle', id: 'ng' + j}, '', grp);
    parts.push(part);
  });

  // ---- the state at a step ----
  function state(s) {
    var val = [], grad = [], con = {}, j;
    var E = edited ? ggCompute(D, edited) : null;
    for (j = 0; j < N.length; j++) {
      val[j] = fstep[j] <= s ? (E ? E.v[j] : ggNum(N[j].value)) : undefined;
      grad[j] = undefined;
    }
    for (j = F; j < s && j < S.length; j++) {
      var st = S[j], n = N[st.n];
      if (E) {
        if (j === F) grad[D.root] = E.g[D.root] * 0 + 1;
        (n.in || []).forEach(function (x, o) {
          var c = E.c[st.n][o];
          con[st.n + '_' + o] = c;
          if (c !== null && c !== undefined) grad[x] = (grad[x] || 0) + c;
        });
      } else {
        st.g.forEach(function (r) { grad[r[0]] = ggNum(r[1]); });
        st.c.forEach(function (c, o) { con[st.n + '_' + o] = ggNum(c); });
      }
    }
    return {val: val, grad: grad, con: con};
  }

  function show(cells, v, hue) {
    var m = 0;
    v.forEach(function (x) { if (isFinite(x)) m = Math.max(m, Math.abs(x)); });
    cells.forEach(function (c, q) {
      var x = v[q], a = m > 0 && isFinite(x) ? Math.abs(x) / m : 0;
      var col = !isFinite(x) ? '#a040a0' : x >= 0 ? 'hsl(' + hue + ',70%,' + (18 + 50 * a) + '%)' : 'hsl(220,70%,' + (18 + 50 * a) + '%)';
      c.rect.setAttribute('fill', col);
      c.tip.textContent = ggFmt(x);
    });
  }
  function pend(cells) { cells.forEach(function (c) { c.rect.setAttribute('fill', '#333'); c.tip.textContent = W.pending; }); }

  function short(t, text, w) {
    var room = Math.max(8, Math.floor((w - 16) / 7.6));
    t.textContent = text.length > room ? text.slice(0, room - 1) + '\u2026' : text;
    sv('title', {}, text, t);
  }

  function render() {
    var st = state(step), act = step > 0 ? S[step - 1] : null, onPath = {};
    var P = pathLeaf >= 0 ? ggPaths(D, pathLeaf, 16) : null;
    if (P) P.paths.forEach(function (p) { p.forEach(function (e) { onPath[e[0] + '_' + e[1]] = true; }); });
    var where = document.getElementById('gg-where');
    where.textContent = step === 0 ? W.start + ' 0/' + S.length
      : step <= F ? W.forward + ' ' + step + '/' + F : W.backward + ' ' + (step - F) + '/' + B;
    N.forEach(function (n, j) {
      var p = parts[j], v = st.val[j], gr = st.grad[j];
      if (p.vt) p.vt.textContent = v === undefined ? W.pending : n.rank ? '' : ggFmt(v);
      if (p.gt) p.gt.textContent = !n.ng ? '' : gr === undefined ? (step > F ? W.pending : '') :
        n.rank ? '' : 'grad ' + ggFmt(gr);
      if (n.rank && p.vt) {   // a big tensor: its summary, cut to the box, whole on hover
        short(p.vt, v === undefined ? W.pending : n.summary || '', n.w);
        if (n.ng) short(p.gt, gr === undefined ? (step > F ? W.pending : '') : n.gsummary || '', n.w);
      }
      if (p.gt && n.rank === 0) p.gt.setAttribute('class', gr === undefined ? 'pending' : 'grad');
      if (p.vt) p.vt.setAttribute('class', v === undefined ? 'pending' : 'val');
      if (p.vcells) { if (v === undefined) pend(p.vcells); else show(p.vcells, v, 110); }
      if (p.gcells) { if (!Array.isArray(gr)) pend(p.gcells); else show(p.gcells, gr, 0); }
      var on = !act || act.n === j || (act.k === 'b' && (N[act.n].in || []).indexOf(j) >= 0)
        || (act.k === 'f' && (N[act.n].in || []).indexOf(j) >= 0);
      p.g.setAttribute('class', 'node ' + n.kind + (act && act.n === j ? ' active' : '') + (on ? '' : ' dim'));
    });
    wires.forEach(function (w) {
      var v = st.val[w.from], c = st.con[w.to + '_' + w.o], n = N[w.to];
      w.tv.textContent = v === undefined ? W.pending : N[w.from].rank ? '[' + N[w.from].shape.join(',') + ']' : ggFmt(v);
      w.tv.setAttribute('class', v === undefined ? 'pending' : 'val');
      var later = step > F && c === undefined && N[w.from].ng;   // backward has begun, not here yet
      w.tg.textContent = later ? W.pending : c === undefined || c === null ? '' : ggFmt(c);
      w.tg.setAttribute('class', later ? 'pending' : 'grad');
      var routed = c === 0 && n.routes;
      if (routed) w.tg.textContent = '0 (routed)';
      var on = !act || act.n === w.to || onPath[w.to + '_' + w.o];
      w.path.setAttribute('class', 'wire' + (routed ? ' routed' : '') + (act && act.n === w.to ? ' active' : '') +
        (onPath[w.to + '_' + w.o] ? ' path' : ''));
      [w.path, w.tv, w.tg].forEach(function (e) { if (!on) e.classList.add('dim'); else e.classList.remove('dim'); });
    });
    var rv = st.val[D.root];
    rootWire.tv.textContent = rv === undefined || R.rank ? '' : ggFmt(rv);
    rootWire.tg.textContent = step > F && R.ng ? (R.rank ? 'grad' : '1') : '';
    card(act, st);
    paths(P);
    if (act && parts[act.n].g.scrollIntoView)
      parts[act.n].g.scrollIntoView({block: 'nearest', inline: 'center'});
    if (typeof history !== 'undefined' && history.replaceState)
      history.replaceState(null, '', '#step=' + step + (pathLeaf >= 0 ? '&path=' + encodeURIComponent(N[pathLeaf].name) : '') +
        Object.keys(edited || {}).map(function (j) { return '&v.' + encodeURIComponent(N[j].name) + '=' + edited[j]; }).join(''));
  }

  function card(act, st) {
    var c = document.getElementById('gg-card');
    c.textContent = '';
    if (!act) {
      el('h2', {}, W.start, c);
      el('p', {'class': 'note'}, W.intro, c);
      return;
    }
    var n = N[act.n];
    el('h2', {}, (act.k === 'f' ? W.forward : W.backward) + ': ' + n.gate + ' gate \u2192 ' + n.name, c);
    if (act.k === 'b') el('div', {'class': 'rule'}, n.gate + ' gate, ' + n.rule, c);
    if (!edited)
      act.lines.forEach(function (l) { el('div', {'class': 'line'}, l, c); });
    if (!edited && act.k === 'b' && n.rank === 0) {
      // The slide's equation for each input wire, in the page's words.
      var E0 = D.editable ? ggCompute(D, null) : null, u0 = st.grad[act.n];
      n.in.forEach(function (x, o) {
        var d = st.con[act.n + '_' + o];
        if (d === null || d === undefined || N[x].rank) return;
        var loc = E0 ? E0.l[act.n][o] : u0 ? d / u0 : NaN;
        el('div', {'class': 'chain'}, 'd' + N[x].name + ': ' + (n.routes && d === 0 ? W.routed :
          W.upstream + ' ' + ggFmt(u0) + ' \u00d7 ' + W.local + ' ' + ggFmt(loc) + ' = ' + W.downstream + ' ' + ggFmt(d)), c);
      });
    }
    if (edited && act.k === 'f') {
      el('div', {'class': 'line'}, n.name + ' = ' + n.gate + '(' + n.in.map(function (x) {
        return N[x].name + ' = ' + ggFmt(st.val[x]); }).join(', ') + ') = ' + ggFmt(st.val[act.n]), c);
    } else {
      var up = st.grad[act.n];
      n.in.forEach(function (x, o) {
        var d = st.con[act.n + '_' + o];
        if (d === null || d === undefined) return;
        var loc = up !== 0 ? d / up : NaN;
        el('div', {'class': 'line'}, 'd' + N[x].name + ' = ' + (n.routes && d === 0 ? W.routed :
          W.local + ' \u00d7 ' + W.upstream + ' = ' + ggFmt(loc) + ' \u00d7 ' + ggFmt(up) + ' = ' + ggFmt(d)), c);
      });
    }
    if (edited) el('p', {'class': 'note'}, W.edited, c);
    // fan-out: every input used by several gates shows what has arrived so far
    if (act.k === 'b') (n.in || []).forEach(function (x, o) {
      if (users[x].length < 2 || n.in.indexOf(x) !== o || !N[x].ng || N[x].rank) return;
      var terms = [], sum = 0, left = 0;
      users[x].forEach(function (u) {
        var cc = st.con[u[0] + '_' + u[1]];
        if (cc === undefined || cc === null) { left++; return; }
        terms.push(ggFmt(cc) + ' (' + W.from + ' ' + N[u[0]].name + ')');
        sum += cc;
      });
      el('div', {'class': 'sum'}, 'd' + N[x].name + ' = ' + terms.join(' + ') + ' = ' + ggFmt(sum) +
        (left ? '  (' + W.sofar + '; ' + left + ' ' + W.more + ')' : '  (' + W.total + ')'), c);
    });
    if (step === S.length) el('p', {'class': 'note'}, W.done, c);
  }

  // The chain rule for the leaf clicked: a product of local derivatives per
  // path, then their sum (what gg_explain prints).
  function paths(P) {
    var box = document.getElementById('gg-paths');
    box.textContent = '';
    if (!D.editable) return;
    el('h2', {}, W.paths, box);
    if (!P) { el('p', {'class': 'note'}, W.pathhelp, box); return; }
    var E = ggCompute(D, edited), x = N[pathLeaf], r = N[D.root], sum = 0;
    el('div', {'class': 'rule'}, '\u2202' + r.name + '/\u2202' + x.name + ': ' + W.pathsof, box);
    P.paths.forEach(function (p, q) {
      var names = [], nums = [], prod = 1;
      for (var e = p.length - 1; e >= 0; e--) {
        var i = p[e][0], o = p[e][1], loc = E.l[i][o];
        names.push('\u2202' + N[i].name + '/\u2202' + N[N[i].in[o]].name);
        nums.push(ggFmt(loc));
        prod *= loc;
      }
      sum += prod;
      el('div', {'class': 'line'}, W.path + ' ' + (q + 1) + ': ' + names.join(' \u00b7 ') + ' = ' + nums.join(' \u00b7 ') + ' = ' + ggFmt(prod), box);
    });
    if (P.count > P.paths.length) el('div', {'class': 'note'}, (P.count - P.paths.length) + ' ' + W.notshown, box);
    if (P.count > P.paths.length) sum = E.g[pathLeaf];
    el('div', {'class': 'sum'}, W.sumpaths + ' = ' + ggFmt(sum) + ' = ' + x.name + '.grad ' + ggFmt(E.g[pathLeaf]), box);
  }

  function findVar(name) { return N.findIndex(function (n) { return n.kind === 'var' && n.name === name; }); }

  function go(s) { step = Math.max(0, Math.min(S.length, s)); render(); }
  function fromHash() {
    var h = location.hash || '', m = /step=(\d+)/.exec(h), p = /path=([^&]*)/.exec(h);
    if (p) pathLeaf = N.findIndex(function (n) { return n.kind === 'var' && n.name === decodeURIComponent(p[1]); });
    // v.NAME=VALUE: a leaf's edited value, so that a link holds an edited state too
    h.replace(/^#/, '').split('&').forEach(function (kv) {
      var q = /^v\.([^=]*)=(.*)$/.exec(kv), j = q ? findVar(decodeURIComponent(q[1])) : -1;
      if (j >= 0 && D.editable && !isNaN(parseFloat(q[2]))) {
        edited = edited || {};
        edited[j] = parseFloat(q[2]);
        var inp = document.getElementById('in' + j);
        if (inp) inp.value = String(edited[j]);
      }
    });
    go(m ? parseInt(m[1], 10) : 0);
  }
  document.getElementById('gg-first').onclick = function () { go(0); };
  document.getElementById('gg-back').onclick = function () { go(step - 1); };
  document.getElementById('gg-next').onclick = function () { go(step + 1); };
  document.getElementById('gg-last').onclick = function () { go(S.length); };
  document.addEventListener('keydown', function (e) {
    if (e.target && e.target.tagName === 'INPUT') return;
    if (e.key === 'ArrowRight' || e.key === ' ') { go(step + 1); e.preventDefault(); }
    else if (e.key === 'ArrowLeft') { go(step - 1); e.preventDefault(); }
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End') go(S.length);
  });
  window.addEventListener('hashchange', fromHash);

  // ---- the leaves' inputs ----
  var box = document.getElementById('gg-inputs');
  el('h2', {}, W.inputs, box);
  N.forEach(function (n, j) {
    if (n.kind !== 'var') return;
    var lab = el('label', {}, null, box);
    el('span', {}, n.name + (n.rank ? ' [' + n.shape.join(',') + ']' : ''), lab);
    if (!D.editable || n.rank) { el('span', {'class': 'val'}, n.rank ? '' : ggFmt(ggNum(n.value)), lab); return; }
    var inp = el('input', {type: 'number', step: 'any', value: String(ggNum(n.value)), id: 'in' + j}, null, lab);
    var nb = el('button', {type: 'button', 'class': 'nudge', id: 'nudge' + j}, W.nudge, lab);
    nb.addEventListener('click', function () {
      var r = ggNudge(D, edited, j);
      document.getElementById('gg-nudge').textContent = W.nudged + ': ' + n.name + ' += h = ' + ggFmt(r.h) +
        ' \u2192 \u0394' + N[D.root].name + ' = ' + ggFmt(r.df) + ' \u2248 grad \u00b7 h = ' + ggFmt(r.grad) +
        ' \u00b7 ' + ggFmt(r.h) + ' = ' + ggFmt(r.grad * r.h);
    });
    inp.addEventListener('input', function () {
      var x = parseFloat(inp.value);
      if (isNaN(x)) return;
      edited = edited || {};
      edited[j] = x;
      render();
    });
  });
  el('p', {'class': 'note'}, D.editable ? W.edit : W.noedit, box);
  el('p', {'class': 'sum', id: 'gg-nudge'}, '', box);
  fromHash();
}

if (typeof document !== 'undefined') ggPage();
