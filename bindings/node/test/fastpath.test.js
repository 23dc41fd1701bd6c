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
    f0.window.__nav = () => f0.navigate('http://zero.test/next');
    f0.evaluate('var keep = 1;');
    top.evaluate('for (var i = 0; i < 6; i++) frames[0].postMessage(i, "*");');
    const old = f0.window;
    await until(() => old.got.length === 3);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([...old.got], [0, 1, 2]);
    assert.equal(f0.evaluate('typeof got'), 'undefined');
    assert.equal(f0.pending, 0);
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
