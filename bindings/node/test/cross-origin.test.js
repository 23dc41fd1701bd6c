// Cross-origin WindowProxy: only HTML's CrossOriginProperties; anything else is a SecurityError.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { seedPair, until } = require('./helpers');

const ALLOWED = ['postMessage', 'window', 'self', 'parent', 'top', 'frames', 'length', 'closed', 'close', 'focus', 'blur'];

test('a cross-origin contentWindow exposes only the allowed properties', () => {
  const { a, b } = seedPair();
  try {
    b.evaluate('var secret = 1;');
    for (const p of ALLOWED) {
      assert.equal(a.evaluate(`try { frames[0].${p}; 'ok' } catch (e) { e.name }`), 'ok', p);
    }
    assert.equal(a.evaluate('frames[0].window === frames[0] && frames[0].self === frames[0] && frames[0].frames === frames[0]'), true);
    assert.equal(a.evaluate('frames[0].parent === window && frames[0].top === window'), true);
    assert.equal(a.evaluate('frames[0].length'), 0);
    assert.equal(a.evaluate('frames[0].closed'), false);
    assert.equal(a.evaluate('typeof frames[0].then'), 'undefined'); // so that await on it works
    for (const p of ['secret', 'document', 'location', 'origin', 'onmessage', 'addEventListener', 'MessageEvent', 'setTimeout', 'name']) {
      const r = a.evaluate(`try { frames[0].${p}; 'leaked' } catch (e) { [e.name, e.code, e instanceof DOMException].join() }`);
      assert.equal(r, 'SecurityError,18,true', p);
    }
    for (const src of ['frames[0].secret = 2', 'frames[0].onmessage = function () {}', 'Object.defineProperty(frames[0], "x", { value: 1 })', 'delete frames[0].secret', 'Object.setPrototypeOf(frames[0], null)']) {
      assert.equal(a.evaluate(`try { ${src}; 'done' } catch (e) { e.name }`), 'SecurityError', src);
    }
    assert.equal(b.evaluate('secret'), 1);
    assert.equal(a.evaluate('Object.getPrototypeOf(frames[0])'), null);
    assert.deepEqual([...a.evaluate('Object.keys(frames[0])')], []);
  } finally {
    a.close();
  }
});

test('parent and event.source of another origin are restricted too', async () => {
  const { a, b } = seedPair();
  try {
    a.evaluate('var secret = "a";');
    assert.equal(b.evaluate('try { parent.secret; "leaked" } catch (e) { e.name }'), 'SecurityError');
    assert.equal(b.evaluate('try { top.document; "leaked" } catch (e) { e.name }'), 'SecurityError');
    b.evaluate('var src; onmessage = function (e) { src = e.source; };');
    a.evaluate('frames[0].postMessage("x", "*")');
    await until(() => b.evaluate('src !== undefined'));
    assert.equal(b.evaluate('src === parent'), true);
    assert.equal(b.evaluate('try { src.secret; "leaked" } catch (e) { e.name }'), 'SecurityError');
  } finally {
    a.close();
  }
});

test('a same-origin window is fully reachable; closed windows report closed', () => {
  const { a } = seedPair();
  const c = a.createIframe('http://127.0.0.1/same.html');
  try {
    c.evaluate('var shared = { v: 7 };');
    assert.equal(a.evaluate('frames[1].shared.v'), 7);
    a.evaluate('frames[1].fromParent = 3');
    assert.equal(c.evaluate('fromParent'), 3);
    a.evaluate('var kept = frames[1];');
    c.close();
    assert.equal(a.evaluate('kept.closed'), true);
    assert.equal(a.evaluate('length'), 1);
    assert.equal(a.evaluate('try { kept.postMessage("x", "*"); "ok" } catch (e) { e.name }'), 'ok'); // a closed window ignores posts
  } finally {
    a.close();
  }
});
