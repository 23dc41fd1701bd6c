// The delivery fast paths give the same events as the plain ones: the addon sends a message's
// origin and source only when they differ from the previous message's (lib/ remembers them),
// queued messages are drained in batches from the loop, and strings skip V8's serializer.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { pm, until } = require('./helpers');

const RECORD = `var got = []; onmessage = function (e) {
  got.push([e.data, e.origin, e.source === null ? 'null' : e.source === parent ? 'parent' : e.source === frames[0] ? 'frame0' : e.source === frames[1] ? 'frame1' : 'other']);
};`;

for (const delivery of ['sync', 'queued']) {
  test(`${delivery}: interleaved sources and origins each arrive with their own origin and source`, async () => {
    const top = new pm.Document('http://top.test/', { delivery });
    const f0 = top.createIframe('http://zero.test/');
    const f1 = top.createIframe('http://one.test/');
    try {
      top.evaluate(RECORD);
      f0.evaluate('function send(m) { parent.postMessage(m, "*"); }');
      f1.evaluate('function send(m) { parent.postMessage(m, "*"); }');
      const order = [[f0, 'a'], [f0, 'b'], [f1, 'c'], [f0, 'd'], [f1, 'e'], [f1, 'f'], [top, 'g'], [f0, 'h']];
      for (const [d, m] of order) {
        if (d === top) top.evaluate(`postMessage(${JSON.stringify(m)}, "*")`);
        else d.evaluate(`send(${JSON.stringify(m)})`);
      }
      f1.close(); // a message whose source is gone: source null, origin kept
      f0.evaluate('send("i")');
      await until(() => top.evaluate('got.length') === order.length + 1);
      const got = top.evaluate('JSON.stringify(got)');
      // f1's messages were sent before it closed; in sync mode they were delivered at once (source
      // f1 then); queued, they arrive after the close, with source null.
      const f1Source = delivery === 'sync' ? 'frame1' : 'null';
      assert.deepEqual(JSON.parse(got), [
        ['a', 'http://zero.test', 'frame0'], ['b', 'http://zero.test', 'frame0'],
        ['c', 'http://one.test', f1Source], ['d', 'http://zero.test', 'frame0'],
        ['e', 'http://one.test', f1Source], ['f', 'http://one.test', f1Source],
        ['g', 'http://top.test', 'parent'], ['h', 'http://zero.test', 'frame0'],
        ['i', 'http://zero.test', 'frame0'],
      ]);
    } finally {
      top.close();
    }
  });
}

test('queued: a sync delivery nested inside a queued one does not confuse the next message\'s origin', async () => {
  // top (queued) gets messages from f0; its listener posts to a sync document, whose listener
  // runs inside that call with another origin and source. The next queued message to top must
  // still carry f0's origin and source.
  const top = new pm.Document('http://top.test/');
  const f0 = top.createIframe('http://zero.test/');
  const s = top.createIframe('http://sync.test/', { delivery: 'sync' });
  try {
    s.evaluate('var seen = []; onmessage = function (e) { seen.push(e.origin + "|" + (e.source === parent)); };');
    top.evaluate(`var got = []; onmessage = function (e) {
      got.push(e.data + "|" + e.origin + "|" + (e.source === frames[0]));
      frames[1].postMessage("nested " + e.data, "*");
    };`);
    f0.evaluate('for (var i = 0; i < 4; i++) parent.postMessage("m" + i, "*");');
    await until(() => top.evaluate('got.length') === 4);
    assert.deepEqual([...top.evaluate('got')], ['m0|http://zero.test|true', 'm1|http://zero.test|true', 'm2|http://zero.test|true', 'm3|http://zero.test|true']);
    assert.deepEqual([...s.evaluate('seen')], Array(4).fill('http://top.test|true'));
  } finally {
    top.close();
  }
});

test('queued: navigating the receiver in the middle of a drained batch discards the rest', async () => {
  const top = new pm.Document('http://top.test/');
  const f0 = top.createIframe('http://zero.test/');
  try {
    f0.evaluate('var got = []; onmessage = function (e) { got.push(e.data); if (e.data === 2) __nav(); };');
    f0.window.__nav = () => {
      f0.navigate('http://zero.test/next');
      f0.evaluate('var later = []; onmessage = function (e) { later.push(e.data); };');
    };
    top.evaluate('for (var i = 0; i < 6; i++) frames[0].postMessage(i, "*");');
    const old = f0.window;
    await until(() => old.got.length === 3);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([...old.got], [0, 1, 2]);
    // 3..5 were posted to the old document: the new one never sees them
    assert.deepEqual([...f0.evaluate('later')], []);
    assert.equal(f0.pending, 0);
    top.evaluate('frames[0].postMessage("new", "*")');
    await until(() => f0.evaluate('later.length') === 1);
  } finally {
    top.close();
  }
});

test('dispatch walks the listener list as it was when dispatch began (DOM clones the list)', () => {
  const d = new pm.Document('http://a.test/');
  try {
    const out = d.evaluate(`
      var t = new EventTarget(), log = [];
      function late() { log.push('late'); }
      function b() { log.push('b'); }
      t.addEventListener('x', function () { log.push('a'); t.addEventListener('x', late); t.removeEventListener('x', b); });
      t.addEventListener('x', b);
      t.addEventListener('x', function () { log.push('cap'); }, true);   // capture listeners run first
      t.addEventListener('x', function () { log.push('c'); });
      t.dispatchEvent(new Event('x'));
      log.push('|');
      t.dispatchEvent(new Event('x'));
      log.join(',')`);
    // b was removed during the first dispatch (not called), late added during it (not called then)
    assert.equal(out, 'cap,a,c,|,cap,a,c,late');
    // a handler attribute keeps its place; setting it to null removes it mid-dispatch too
    assert.equal(d.evaluate(`var u = new BroadcastChannel('x'), l2 = [];
      u.addEventListener('message', function () { l2.push(1); u.onmessage = null; });
      u.onmessage = function () { l2.push(2); };
      u.addEventListener('message', function () { l2.push(3); });
      u.dispatchEvent(new MessageEvent('message')); u.close(); l2.join()`), '1,3');
  } finally {
    d.close();
  }
});

test('Event.timeStamp: creation time in ms since the time origin, also when read later', () => {
  const d = new pm.Document('http://a.test/');
  try {
    const r = d.evaluate(`
      var first = new Event('x');
      var busy = function (ms) { var t0 = Date.now(); while (Date.now() - t0 < ms); };
      busy(30);
      var t1 = first.timeStamp;          // never read before: the time of this first read
      var e2 = new Event('y');           // from now on stamped at creation
      busy(40);
      var t2 = e2.timeStamp;
      var e3 = new MessageEvent('message');
      [typeof t1, t1 >= 0, t2 >= t1, t2 - t1 < 30, e3.timeStamp >= t2 + 30]`);
    assert.deepEqual([...r], ['number', true, true, true, true]);
  } finally {
    d.close();
  }
});

test('queued: a delivered event read later keeps its creation timeStamp', async () => {
  const { a, b } = require('./helpers').seedPair();
  try {
    b.evaluate(`var evs = [], stamps = []; new Event('warm').timeStamp;
      onmessage = function (e) { evs.push(e); stamps.push(Date.now()); };`);
    a.evaluate('frames[0].postMessage("one", "*")');
    await until(() => b.evaluate('evs.length') === 1);
    await new Promise((r) => setTimeout(r, 40));
    const [ts, late] = b.evaluate('[evs[0].timeStamp, new Event("now").timeStamp]');
    assert.ok(late - ts >= 30, `delivered at ${ts}, read at ${late}`);
  } finally {
    a.close();
  }
});

for (const delivery of ['sync', 'queued']) {
  test(`${delivery}: strings around the addon's stack buffer, lone surrogates, empty; values that look like the wire tags`, async () => {
    const { a, b } = require('./helpers').seedPair({ delivery });
    try {
      b.evaluate('var got = []; onmessage = function (e) { got.push(e.data); };');
      // The addon copies strings of up to 510 UTF-16 code units on the stack, longer ones twice.
      const sent = a.evaluate(`(function () {
        var out = ['', '\\ud800', 'x\\udc00', '\\udbff\\udfff', '\\u0000', 'é€😀'];
        for (var n = 505; n <= 515; n++) {
          out.push('a'.repeat(n));
          out.push('\\ud83d' + 'é'.repeat(n - 2) + '\\ud83d');   // lone high surrogates at both ends
        }
        out.push('\\u0003\\u0000abc', '\\u0001', '\\u0002');   // the first bytes of the wire format
        out.push(-0, NaN, 0, 1.5, 12345678901234567890n, -1n, true, null, undefined,
                 { 0: 3 }, [3, 0], new Uint8Array([3, 0, 65, 0]), new String('boxed'));
        out.forEach(function (m) { frames[0].postMessage(m, '*'); });
        return out;
      })()`);
      await until(() => b.evaluate('got.length') === sent.length);
      const got = b.evaluate('got');
      assert.equal(got.length, sent.length);
      for (let i = 0; i < sent.length; i++) {
        const s = sent[i];
        const g = got[i];
        if (typeof s === 'string') {
          assert.equal(typeof g, 'string', `message ${i}`);
          assert.equal(g.length, s.length, `message ${i}: length`);
          assert.ok(g === s, `message ${i}: ${JSON.stringify(s.slice(0, 8))}… differs`);
        } else if (typeof s === 'number') {
          assert.ok(Object.is(g, s), `message ${i}: ${g} is not ${s}`);
        } else if (s !== null && typeof s === 'object') {
          assert.deepEqual(JSON.stringify(Object.entries(g)), JSON.stringify(Object.entries(s)), `message ${i}`);
          assert.equal(Object.prototype.toString.call(g), Object.prototype.toString.call(s), `message ${i}: type`);
        } else {
          assert.equal(g, s, `message ${i}`);
        }
      }
    } finally {
      a.close();
    }
  });
}

// Queued deliveries are handed to lib/ a drain chunk at a time (src/addon.c); each message is
// still its own task. These tests hold with and without batching (see the last test).

test('queued: every message of a batch is its own task (promise chains, nextTicks, queueMicrotask)', async () => {
  const { a, b } = require('./helpers').seedPair();
  try {
    b.window.__tick = (f) => process.nextTick(f);
    b.evaluate(`var log = []; onmessage = function (e) {
      var m = e.data;
      log.push(m);
      Promise.resolve().then(function () { log.push(m + 'p1'); }).then(function () { log.push(m + 'p2'); })
        .then(function () { return Promise.resolve(); }).then(function () { log.push(m + 'p3'); });
      queueMicrotask(function () { log.push(m + 'q'); });
      __tick(function () { log.push(m + 't'); });
    };`);
    a.evaluate('for (var i = 0; i < 150; i++) frames[0].postMessage("m" + i, "*");'); // more than a chunk
    await until(() => b.evaluate('log.length') === 150 * 6);
    const log = [...b.evaluate('log')];
    const want = [];
    for (let i = 0; i < 150; i++) {
      const m = `m${i}`;
      // HTML: all microtasks of a task before the next task; Node: nextTicks with them
      want.push(m, `${m}t`, `${m}p1`, `${m}q`, `${m}p2`, `${m}p3`);
    }
    assert.deepEqual(log, want);
  } finally {
    a.close();
  }
});

test('queued: closing the receiver in the middle of a batch drops the rest; ports in them are closed', async () => {
  const top = new pm.Document('http://top.test/');
  const f0 = top.createIframe('http://zero.test/');
  try {
    f0.evaluate('var got = []; onmessage = function (e) { got.push(e.data); if (e.data === 1) __close(); };');
    f0.window.__close = () => f0.close();
    const before = pm.stats().ports;
    top.evaluate(`var kept = [];
      for (var i = 0; i < 4; i++) { var ch = new MessageChannel(); kept.push(ch.port1); frames[0].postMessage(i, "*", [ch.port2]); }`);
    const old = f0.window;
    await until(() => old.got.length === 2);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([...old.got], [0, 1]);
    assert.equal(f0.closed, true);
    // the two delivered ports died with f0's realm, the two undelivered ones were closed
    assert.equal(pm.stats().ports, before + 4);
    top.evaluate('kept.forEach(function (p) { p.close(); })');
    assert.equal(pm.stats().ports, before);
  } finally {
    top.close();
  }
});

test('queued: port, window and broadcast messages and drop warnings keep their order within a batch', async () => {
  const { recorder, seedPair } = require('./helpers');
  const rec = recorder();
  const { a, b } = seedPair({ console: rec.console });
  try {
    b.evaluate(`var log = [], ch = new MessageChannel(), bc1 = new BroadcastChannel('k'), bc2 = new BroadcastChannel('k');
      ch.port2.onmessage = function (e) { log.push('port ' + e.data); };
      bc2.onmessage = function (e) { log.push('bc ' + e.data); };
      onmessage = function (e) { log.push('win ' + e.data); };
      console.warn = function (m) { log.push('warn ' + m.split("'")[5]); };`); // the recorder's
    // b posts to itself through every path in one go; a wrong targetOrigin is a drop
    b.evaluate(`postMessage(1, "*"); ch.port1.postMessage(2); postMessage(3, "http://elsewhere.test");
      bc1.postMessage(4); postMessage(5, "*"); ch.port1.postMessage(6);`);
    await until(() => b.evaluate('log.length') === 6);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual([...b.evaluate('log')], ['win 1', 'port 2', 'warn http://elsewhere.test', 'bc 4', 'win 5', 'port 6']);
  } finally {
    a.close();
  }
});

test('queued deliveries are batched unless PM_NODE_UNBATCHED is set (or Node lacks process._tickCallback)', () => {
  assert.equal(pm.stats().batched, !process.env.PM_NODE_UNBATCHED && typeof process._tickCallback === 'function');
});

test('the same behaviour without batching: these tests and window.test.js with PM_NODE_UNBATCHED=1', { skip: !!process.env.PM_NODE_UNBATCHED, timeout: 240000 }, () => {
  const { spawnSync } = require('node:child_process');
  const path = require('node:path');
  const env = { ...process.env, PM_NODE_UNBATCHED: '1' };
  delete env.NODE_TEST_CONTEXT; // set by this runner: the child would report to it, not to stdout
  const r = spawnSync(process.execPath, ['--test', path.join(__dirname, 'fastpath.test.js'), path.join(__dirname, 'window.test.js'), path.join(__dirname, 'ports.test.js')], {
    env, encoding: 'utf8', timeout: 230000,
  });
  const tail = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^# (pass|fail)|^not ok/.test(l)).join('\n');
  assert.equal(r.status, 0, tail);
  assert.match(r.stdout, /^# fail 0$/m);
});

test('interned targetOrigins: the addon\'s index stands for the string; bad indexes are TypeErrors', () => {
  const native = require('../build/postmessage.node');
  const w = native.windowNew('http://a.test/');
  const other = native.windowNew('http://b.test/');
  try {
    const i = native.internOrigin('http://b.test');
    assert.equal(typeof i, 'number');
    assert.ok(i >= 0);
    assert.equal(native.internOrigin('http://b.test'), i); // same string, same index
    const j = native.internOrigin('http://elsewhere.test');
    assert.notEqual(j, i);
    assert.equal(native.post(w, other, 'x', i), 0);    // PM_OK: b.test matches
    assert.equal(native.post(w, other, 'x', j), 1);    // PM_DROPPED: mismatch
    assert.equal(native.internOrigin('http://a\0b'), -1); // a NUL is never interned (post refuses it)
    for (const bad of [NaN, -1, 1.5, 1e9, Infinity]) assert.throws(() => native.post(w, other, 'x', bad), TypeError, String(bad));
    assert.throws(() => native.internOrigin(5), TypeError);
  } finally {
    native.windowFree(w);
    native.windowFree(other);
  }
});

test('sync: hundreds of distinct targetOrigins (past the interned table) each match or not as their string says', () => {
  const { a, b } = require('./helpers').seedPair({ delivery: 'sync', warnOnDrop: false });
  try {
    b.evaluate('var got = []; onmessage = function (e) { got.push(e.data); };');
    const n = a.evaluate(`(function () {
      var sent = 0;
      for (var i = 0; i < 600; i++) {
        var o = i % 50 === 0 ? 'http://localhost' : i % 75 === 1 ? 'http://localhost:80/p' + i : 'http://o' + i + '.test';
        frames[0].postMessage(i, o);
        if (o.indexOf('localhost') >= 0) sent++;
      }
      return sent;
    })()`);
    assert.equal(a.evaluate(`(function () { try { frames[0].postMessage('nul', 'http://localhost\\u0000x'); } catch (e) { return e.name; } })()`), 'SyntaxError');
    const got = [...b.evaluate('got')];
    assert.equal(got.length, n);
    assert.ok(got.every((i) => i % 50 === 0 || i % 75 === 1), JSON.stringify(got));
  } finally {
    a.close();
  }
});
