// window.postMessage between documents, in both delivery modes (HTML "window post message steps").
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { pm, seedPair, turns, until, recorder } = require('./helpers');

const SEED_B = `window.addEventListener('message',function(e) {
    if (e.origin == 'http://127.0.0.1') {
        if (e.data == 'Hello World') {
            // We can reply with this
            e.source.postMessage('Hello');
        } else {
            console.log(e);
        }
    }
},false);`;
const SEED_A = `var targetframe = document.getElementsByTagName('iframe')[0];
targetframe.contentWindow.postMessage('Hello World','http://localhost');`;

for (const delivery of ['sync', 'queued']) {
  test(`${delivery}: the seed's exchange; the reply without targetOrigin is dropped with Chromium's warning`, async () => {
    const rec = recorder();
    const { a, b } = seedPair({ delivery, console: rec.console });
    try {
      b.evaluate(SEED_B, 'B.js');
      b.evaluate('var got = []; addEventListener("message", function (e) { got.push(e.data + "|" + e.origin); });');
      a.evaluate('var got = []; addEventListener("message", function (e) { got.push(e.data + "|" + e.origin); });');
      a.evaluate(SEED_A, 'A.js');
      await until(() => rec.lines.warn.length === 1);
      assert.deepEqual([...b.evaluate('got')], ['Hello World|http://127.0.0.1']);
      assert.deepEqual([...a.evaluate('got')], []);
      assert.deepEqual(rec.lines.warn, ["Failed to execute 'postMessage' on 'DOMWindow': The target origin provided ('http://localhost') does not match the recipient window's origin ('http://127.0.0.1')."]);
      // The corrected reply arrives.
      b.evaluate('addEventListener("message", function (e) { if (e.data === "again") e.source.postMessage("Hello", e.origin); });');
      a.evaluate('frames[0].postMessage("again", "http://localhost")');
      await until(() => a.evaluate('got.length') === 1);
      assert.deepEqual([...a.evaluate('got')], ['Hello|http://localhost']);
      assert.equal(rec.lines.warn.length, 1);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: targetOrigin "*", "/", URLs with paths, and the options form`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate('var got = []; onmessage = function (e) { got.push(e.data); };');
      a.evaluate(`var w = frames[0];
        w.postMessage('star', '*');
        w.postMessage('url-with-path', 'http://localhost/some/path?q#f');
        w.postMessage('wrong-port', 'http://localhost:81');
        w.postMessage('wrong-scheme', 'https://localhost');
        w.postMessage('slash-means-mine', '/');
        w.postMessage('opts', { targetOrigin: 'http://localhost' });
        w.postMessage('opts-default-slash', {});
        w.postMessage('no-origin-at-all');`);
      b.evaluate('postMessage("self-slash", "/"); postMessage("self-opts", {})');
      await turns();
      assert.deepEqual([...b.evaluate('got')], ['star', 'url-with-path', 'opts', 'self-slash', 'self-opts']);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: event fields: data, origin, lastEventId, source, ports, isTrusted`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate('var ev; onmessage = function (e) { ev = e; };');
      a.evaluate('frames[0].postMessage({ n: 1 }, "*")');
      await until(() => b.evaluate('!!ev'));
      const r = b.evaluate(`[ev.type, ev.data.n, ev.origin, ev.lastEventId, ev.source === parent, ev.ports.length,
        ev.isTrusted, ev instanceof MessageEvent, ev.target === window, ev.bubbles, ev.cancelable]`);
      assert.deepEqual([...r], ['message', 1, 'http://127.0.0.1', '', true, 0, true, true, true, false, false]);
      // event.source works for replying and is the same WindowProxy each time
      a.evaluate('var back = []; onmessage = function (e) { back.push(e.data, e.source === frames[0]); };');
      b.evaluate('ev.source.postMessage("r1", "*"); parent.postMessage("r2", "*")');
      await until(() => a.evaluate('back.length') === 4);
      assert.deepEqual([...a.evaluate('back')], ['r1', true, 'r2', true]);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: many messages arrive in order`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate('var got = []; addEventListener("message", function (e) { got.push(e.data); });');
      a.evaluate('for (var i = 0; i < 500; i++) frames[0].postMessage(i, "http://localhost");');
      await until(() => b.evaluate('got.length') === 500);
      const got = [...b.evaluate('got')];
      assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => i));
    } finally {
      a.close();
    }
  });

  test(`${delivery}: structured clone of every supported type`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate('var got; onmessage = function (e) { got = e.data; };');
      a.evaluate(`var ab = new ArrayBuffer(4); new Uint8Array(ab).set([1, 2, 3, 4]);
        var cyc = { name: 'cyc' }; cyc.self = cyc;
        frames[0].postMessage({ s: 'str\\ud800', n: -0, big: 12345678901234567890n, arr: [1, , 3], d: new Date(86400000),
          re: /a+b/gi, m: new Map([['k', { v: 1 }]]), set: new Set([1, 'two']), ab: ab,
          u8: new Uint8Array([9, 8]), f64: new Float64Array([0.5]), cyc: cyc, nul: null, undef: undefined, t: true,
          boxed: new String('boxed') }, '*');`);
      await until(() => b.evaluate('got !== undefined'));
      const r = b.evaluate(`[got.s.length, got.s.charCodeAt(3), Object.is(got.n, -0), typeof got.big, got.big === 12345678901234567890n, got.arr.length, 1 in got.arr,
        got.d.getTime(), got.re.source, got.re.flags, got.m.get('k').v, got.set.has('two'), Array.from(new Uint8Array(got.ab)).join(),
        Array.from(got.u8).join(), got.f64[0], got.cyc.self === got.cyc, got.nul, got.undef, 'undef' in got, got.t, String(got.boxed)]`);
      assert.deepEqual([...r], [4, 0xd800, true, 'bigint', true, 3, false, 86400000, 'a+b', 'gi', 1, true, '1,2,3,4', '9,8', 0.5, true, null, undefined, true, true, 'boxed']);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: received data belongs to the receiving realm`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate('var got; onmessage = function (e) { got = e.data; };');
      a.evaluate(`var buf = new ArrayBuffer(8);
        frames[0].postMessage({ arr: [1, [2]], m: new Map([[{ k: 1 }, new Set([1])]]), d: new Date(5), re: /x/g,
          u8: new Uint8Array(buf, 0, 4), f32: new Float32Array(buf, 4, 1), err: new RangeError('r'), n: new Number(3) }, '*');`);
      await until(() => b.evaluate('got !== undefined'));
      const r = b.evaluate(`[got instanceof Object, got.constructor === Object, got.arr instanceof Array, got.arr[1] instanceof Array,
        got.m instanceof Map, got.m.keys().next().value instanceof Object, got.m.values().next().value instanceof Set,
        got.d instanceof Date, got.re instanceof RegExp, got.re.global, got.u8 instanceof Uint8Array, got.f32 instanceof Float32Array,
        got.u8.buffer === got.f32.buffer, got.u8.buffer instanceof ArrayBuffer, got.err instanceof RangeError, got.err.message,
        got.n instanceof Number, +got.n,
        got.constructor.constructor('return typeof require + typeof process')()]`);
      assert.deepEqual([...r], [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, 'r', true, 3, 'undefinedundefined']);
      assert.equal(b.evaluate('structuredClone([1]) instanceof Array'), true);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: an uncloneable message throws DataCloneError and sends nothing`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate('var got = []; onmessage = function (e) { got.push(e.data); };');
      for (const expr of ['function () {}', 'Symbol("s")', '{ f: function () {} }', '[1, Symbol.iterator]', 'new WeakMap()', 'Promise.resolve(1)', 'window', 'frames[0]']) {
        const r = a.evaluate(`try { frames[0].postMessage(${expr}, '*'); 'sent' } catch (e) { [e.name, e.code, e instanceof DOMException].join() }`);
        assert.equal(r, 'DataCloneError,25,true', expr);
      }
      await turns();
      assert.deepEqual([...b.evaluate('got')], []);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: a bad targetOrigin throws SyntaxError, even before a DataCloneError`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate('var got = []; onmessage = function (e) { got.push(e.data); };');
      for (const o of ['localhost', '', 'http://', '//localhost', 'not a url', '*x']) {
        const r = a.evaluate(`try { frames[0].postMessage('x', ${JSON.stringify(o)}); 'sent' } catch (e) { [e.name, e.code, e instanceof DOMException].join() }`);
        assert.equal(r, 'SyntaxError,12,true', JSON.stringify(o));
      }
      assert.equal(a.evaluate('try { frames[0].postMessage(function () {}, "nope"); } catch (e) { e.name }'), 'SyntaxError');
      assert.equal(a.evaluate('try { postMessage(); } catch (e) { e instanceof TypeError }'), true);
      await turns();
      assert.deepEqual([...b.evaluate('got')], []);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: a listener that throws is reported and delivery continues`, async () => {
    const rec = recorder();
    const { a, b } = seedPair({ delivery, console: rec.console });
    try {
      b.evaluate(`var got = [], errors = [];
        addEventListener('message', function (e) { throw new Error('boom ' + e.data); });
        addEventListener('message', function (e) { got.push(e.data); });
        onerror = function (msg, src, line, col, err) { errors.push(msg && msg.message); };
        addEventListener('error', function (e) { errors.push(e.message + '|' + (e.error && e.error.message)); });`);
      a.evaluate('frames[0].postMessage(1, "*"); frames[0].postMessage(2, "*")');
      await until(() => b.evaluate('got.length') === 2);
      assert.deepEqual([...b.evaluate('got')], [1, 2]);
      assert.deepEqual([...b.evaluate('errors')].filter((x) => typeof x === 'string' && x.includes('|')), ['Uncaught boom 1|boom 1', 'Uncaught boom 2|boom 2']);
      assert.deepEqual(rec.lines.error, ['Uncaught boom 1', 'Uncaught boom 2']); // nobody cancelled the error events
      b.evaluate('addEventListener("error", function (e) { e.preventDefault(); })');
      a.evaluate('frames[0].postMessage(3, "*")');
      await until(() => b.evaluate('got.length') === 3);
      assert.equal(rec.lines.error.length, 2); // cancelled: not printed
    } finally {
      a.close();
    }
  });

  test(`${delivery}: removeEventListener and onmessage = null stop delivery`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate(`var got = []; function f(e) { got.push('f' + e.data); }
        addEventListener('message', f); onmessage = function (e) { got.push('h' + e.data); };`);
      a.evaluate('frames[0].postMessage(1, "*")');
      await until(() => b.evaluate('got.length') === 2);
      b.evaluate('removeEventListener("message", f); onmessage = null;');
      a.evaluate('frames[0].postMessage(2, "*")');
      await turns();
      assert.deepEqual([...b.evaluate('got')], ['f1', 'h1']);
    } finally {
      a.close();
    }
  });
}

test('sync: listeners run inside postMessage; queued: after it returns, one task per message', async () => {
  const s = seedPair({ delivery: 'sync' });
  try {
    s.b.evaluate('var got = []; onmessage = function (e) { got.push(e.data); };');
    s.a.evaluate('frames[0].postMessage("now", "*")');
    assert.deepEqual([...s.b.evaluate('got')], ['now']);
  } finally {
    s.a.close();
  }
  const q = seedPair({ delivery: 'queued' });
  try {
    q.b.evaluate(`var log = []; onmessage = function (e) {
      log.push('m' + e.data); Promise.resolve().then(function () { log.push('p' + e.data); }); };`);
    q.a.evaluate('frames[0].postMessage(1, "*"); frames[0].postMessage(2, "*")');
    assert.deepEqual([...q.b.evaluate('log')], []);
    assert.equal(q.b.pending, 2);
    await until(() => q.b.evaluate('log.length') === 4);
    // a microtask checkpoint between the two tasks, as between HTML tasks
    assert.deepEqual([...q.b.evaluate('log')], ['m1', 'p1', 'm2', 'p2']);
  } finally {
    q.a.close();
  }
});

test('queued: a message whose source was closed before delivery has source null, origin kept', async () => {
  const { a, b } = seedPair();
  try {
    a.evaluate('var got = []; onmessage = function (e) { got.push([e.data, e.origin, e.source === null]); };');
    b.evaluate('parent.postMessage("bye", "*")');
    b.close();
    await until(() => a.evaluate('got.length') === 1);
    assert.deepEqual([...a.evaluate('got[0]')], ['bye', 'http://localhost', true]);
  } finally {
    a.close();
  }
});

test('queued: a document that posts to itself forever does not starve timers', { timeout: 60000 }, async () => {
  const d = new pm.Document('http://a.test/');
  try {
    d.evaluate('var n = 0; onmessage = function () { n++; postMessage(0, "*"); }; postMessage(0, "*");');
    await until(() => d.evaluate('n') > 0, 20000);
    // if the storm starved the loop, this timer would never fire (the test would time out)
    await new Promise((r) => setTimeout(r, 20));
    const first = d.evaluate('n');
    await until(() => d.evaluate('n') > first, 20000); // and the storm goes on after it
  } finally {
    d.close();
  }
});

test('sync: a listener that posts to itself forever hits the depth limit, no crash', () => {
  const rec = recorder();
  const d = new pm.Document('http://a.test/', { delivery: 'sync', console: rec.console });
  try {
    const r = d.evaluate(`var n = 0, err = null; onmessage = function () { n++; try { postMessage(0, "*"); } catch (e) { err = err || e; } };
      postMessage(0, "*"); [n, err && err.name]`);
    assert.ok(r[0] >= 16 && r[0] <= 40, `depth ${r[0]}`);
    assert.equal(r[1], 'RangeError');
  } finally {
    d.close();
  }
});

test('drop warnings are per document (warnOnDrop: false)', async () => {
  const rec = recorder();
  const a = new pm.Document('http://127.0.0.1/', { console: rec.console, warnOnDrop: false });
  const b = a.createIframe('http://localhost/');
  try {
    a.evaluate('frames[0].postMessage("x", "http://elsewhere")');
    await turns();
    assert.deepEqual(rec.lines.warn, []);
  } finally {
    a.close();
  }
  void b;
});

test('opaque origins: only "*" reaches a data: document', async () => {
  const a = new pm.Document('http://127.0.0.1/', { warnOnDrop: false });
  const b = a.createIframe('data:text/html,x');
  try {
    b.evaluate('var got = []; onmessage = function (e) { got.push(e.data + "|" + e.origin); };');
    // "null" is not a URL: a SyntaxError, not a way to address opaque origins
    assert.equal(a.evaluate('try { frames[0].postMessage("a", "null"); } catch (e) { e.name }'), 'SyntaxError');
    a.evaluate('frames[0].postMessage("b", "*");');
    b.evaluate('parent.postMessage("up", "*")');
    a.evaluate('var up = []; onmessage = function (e) { up.push(e.origin); };');
    await until(() => b.evaluate('got.length') === 1 && a.evaluate('up.length') === 1);
    assert.deepEqual([...b.evaluate('got')], ['b|http://127.0.0.1']);
    assert.deepEqual([...a.evaluate('up')], ['null']);
  } finally {
    a.close();
  }
});

test('queued: idle documents keep no event-loop reference; queued messages still arrive first', () => {
  const { spawnSync } = require('node:child_process');
  const script = `
    const pm = require(${JSON.stringify(require.resolve('..'))});
    const a = new pm.Document('http://127.0.0.1/');
    const b = a.createIframe('http://localhost/');
    b.window.__out = (s) => process.stdout.write(s + '\\n');
    b.evaluate('onmessage = function (e) { __out("got " + e.data); }');
    a.evaluate('frames[0].postMessage("last words", "*")');
    // no close(): the process must exit by itself once the message is delivered
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.error, undefined, 'the process did not exit by itself');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'got last words\n');
});
