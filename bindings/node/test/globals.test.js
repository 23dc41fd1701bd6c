// Every global the issue lists exists in each realm, per realm, and behaves as in a browser.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { pm, seedPair, turns } = require('./helpers');

test('window, self, globalThis, frames are the same object; a.window is the realm global', () => {
  const { a } = seedPair();
  try {
    assert.equal(a.evaluate('window === self && self === globalThis && frames === window'), true);
    assert.equal(a.evaluate('globalThis'), a.window);
    assert.equal(a.evaluate('1 + 1', 'x.js'), 2); // evaluate returns the completion value
  } finally {
    a.close();
  }
});

test('every listed global exists in each realm', () => {
  const { a, b } = seedPair();
  try {
    const names = ['window', 'self', 'parent', 'top', 'frames', 'location', 'origin', 'document',
      'postMessage', 'onmessage', 'onmessageerror', 'addEventListener', 'removeEventListener',
      'dispatchEvent', 'MessageEvent', 'MessageChannel', 'MessagePort', 'BroadcastChannel', 'Event',
      'EventTarget', 'DOMException', 'structuredClone', 'setTimeout', 'clearTimeout', 'setInterval',
      'clearInterval', 'queueMicrotask', 'console'];
    for (const d of [a, b]) {
      for (const n of names) assert.equal(d.evaluate(`'${n}' in globalThis`), true, `${n} missing in ${d.url}`);
    }
    assert.equal(a.evaluate('onmessage'), null);
    assert.equal(a.evaluate('typeof require'), 'undefined'); // no Node internals leak in
  } finally {
    a.close();
  }
});

test('each realm has its own constructors', () => {
  const { a, b } = seedPair();
  try {
    for (const n of ['MessageEvent', 'Event', 'EventTarget', 'DOMException', 'MessageChannel', 'MessagePort', 'BroadcastChannel']) {
      assert.notEqual(a.window[n], b.window[n], n);
    }
    assert.equal(a.evaluate('new MessageEvent("x") instanceof Event'), true);
    assert.equal(a.evaluate('new DOMException("m", "SyntaxError") instanceof Error'), true);
    // An exception thrown in a realm is that realm's DOMException
    assert.equal(a.evaluate('try { postMessage(1, "::bad"); } catch (e) { e instanceof DOMException }'), true);
  } finally {
    a.close();
  }
});

test('parent, top, length, document.getElementsByTagName("iframe")', () => {
  const { a, b } = seedPair();
  const c = b.createIframe('http://localhost/inner.html');
  try {
    assert.equal(a.evaluate('parent === window && top === window'), true);
    assert.equal(a.evaluate('length'), 1);
    assert.equal(a.evaluate('document.getElementsByTagName("iframe").length'), 1);
    assert.equal(a.evaluate('document.getElementsByTagName("IFRAME")[0].contentWindow === frames[0]'), true);
    assert.equal(a.evaluate('document.getElementsByTagName("div").length'), 0);
    assert.equal(a.evaluate('window[0] === frames[0]'), true);
    assert.equal(b.evaluate('parent === top'), true);
    assert.equal(c.evaluate('top === parent.parent'), true);
    // c and b are same-origin: b's window reaches c's globals
    c.evaluate('var secret = 42');
    assert.equal(b.evaluate('frames[0].secret'), 42);
    assert.equal(b.evaluate('frames[0].parent === window'), true);
  } finally {
    a.close();
  }
});

test('location and origin', () => {
  const d = new pm.Document('http://Example.COM:8080/a/b.html?q=1#h');
  try {
    const loc = JSON.parse(d.evaluate('JSON.stringify({href: location.href, origin: location.origin, protocol: location.protocol, host: location.host, hostname: location.hostname, port: location.port, pathname: location.pathname, o: origin})'));
    assert.deepEqual(loc, {
      href: 'http://example.com:8080/a/b.html?q=1#h', origin: 'http://example.com:8080', protocol: 'http:',
      host: 'example.com:8080', hostname: 'example.com', port: '8080', pathname: '/a/b.html', o: 'http://example.com:8080',
    });
    assert.equal(d.evaluate('String(location)'), 'http://example.com:8080/a/b.html?q=1#h');
  } finally {
    d.close();
  }
  const opaque = new pm.Document('data:text/html,hi');
  try {
    assert.equal(opaque.evaluate('origin'), 'null');
  } finally {
    opaque.close();
  }
});

test('Event, EventTarget and dispatchEvent', () => {
  const d = new pm.Document('http://a.test/');
  try {
    const out = d.evaluate(`
      var t = new EventTarget(), log = [];
      function f(e) { log.push('f:' + e.type + ':' + (e.target === t) + ':' + e.eventPhase); }
      t.addEventListener('x', f);
      t.addEventListener('x', f);                    // duplicate: ignored
      t.addEventListener('x', { handleEvent: function (e) { log.push('obj'); } });
      t.addEventListener('x', function () { log.push('once'); }, { once: true });
      var ev = new Event('x', { cancelable: true });
      t.addEventListener('x', function (e) { e.preventDefault(); });
      var r1 = t.dispatchEvent(ev);
      t.removeEventListener('x', f);
      t.dispatchEvent(new Event('x'));
      log.push(r1, ev.defaultPrevented, ev.isTrusted, ev.eventPhase);
      log.join(',')`);
    assert.equal(out, 'f:x:true:2,obj,once,obj,false,true,false,0');
    assert.equal(d.evaluate(`var t2 = new EventTarget(), n = 0;
      t2.addEventListener('y', function (e) { n++; e.stopImmediatePropagation(); });
      t2.addEventListener('y', function () { n++; });
      t2.dispatchEvent(new Event('y')); n`), 1);
    assert.equal(d.evaluate('try { new Event(); "no" } catch (e) { e instanceof TypeError }'), true); // the realm's TypeError
    assert.equal(d.evaluate('var w = 0; addEventListener("ping", function () { w++; }); dispatchEvent(new Event("ping")); w'), 1);
  } finally {
    d.close();
  }
});

test('MessageEvent constructor with an init dictionary', () => {
  const d = new pm.Document('http://a.test/');
  try {
    const r = d.evaluate(`
      var ch = new MessageChannel();
      var e = new MessageEvent('message', { data: { k: 1 }, origin: 'http://x', lastEventId: '7', source: window, ports: [ch.port1] });
      var d0 = new MessageEvent('message');
      [e.data.k, e.origin, e.lastEventId, e.source === window, e.ports.length, e.ports[0] === ch.port1, Object.isFrozen(e.ports),
       d0.data, d0.origin, d0.lastEventId, d0.source, d0.ports.length, e.isTrusted]`);
    assert.deepEqual([...r], [1, 'http://x', '7', true, 1, true, true, null, '', '', null, 0, false]);
    assert.throws(() => d.evaluate('new MessageEvent("m", { source: {} })'), { name: 'TypeError' });
    assert.throws(() => d.evaluate('new MessageEvent("m", { ports: [1] })'), { name: 'TypeError' });
  } finally {
    d.close();
  }
});

test('DOMException names, codes and constants', () => {
  const d = new pm.Document('http://a.test/');
  try {
    const r = d.evaluate(`var e = new DOMException('m', 'DataCloneError');
      [e.name, e.message, e.code, DOMException.DATA_CLONE_ERR, new DOMException('x', 'SecurityError').code,
       new DOMException('x', 'SyntaxError').code, new DOMException().name, Object.prototype.toString.call(e)]`);
    assert.deepEqual([...r], ['DataCloneError', 'm', 25, 25, 18, 12, 'Error', '[object DOMException]']);
  } finally {
    d.close();
  }
});

test('structuredClone, timers, queueMicrotask, console', async () => {
  const logged = [];
  const d = new pm.Document('http://a.test/', { console: { log: (...a) => logged.push(a.join(' ')), warn() {}, error() {} } });
  try {
    const r = d.evaluate(`var src = { a: [1, { b: new Date(0) }], m: new Map([[1, 'x']]) };
      var c = structuredClone(src);
      var buf = new ArrayBuffer(8), moved = structuredClone(buf, { transfer: [buf] });
      [c !== src, c.a[1].b.getTime(), c.m.get(1), buf.byteLength, moved.byteLength]`);
    assert.deepEqual([...r], [true, 0, 'x', 0, 8]);
    assert.equal(d.evaluate('try { structuredClone(function () {}); "no" } catch (e) { e.name + ":" + (e instanceof DOMException) }'), 'DataCloneError:true');
    d.evaluate(`var order = [];
      setTimeout(function () { order.push('timeout'); console.log('timer ran'); }, 1);
      var iv = setInterval(function () { order.push('interval'); clearInterval(iv); }, 1);
      var never = setTimeout(function () { order.push('cleared'); }, 1); clearTimeout(never);
      queueMicrotask(function () { order.push('micro'); });
      order.push('sync');`);
    await new Promise((r) => setTimeout(r, 30));
    const order = [...d.evaluate('order')];
    assert.deepEqual(order.slice(0, 2), ['sync', 'micro']);
    assert.deepEqual(order.slice(2).sort(), ['interval', 'timeout']);
    assert.deepEqual(logged, ['timer ran']);
  } finally {
    d.close();
  }
});

test('timers of a closed document never fire', async () => {
  const d = new pm.Document('http://a.test/');
  let fired = false;
  d.window.__hit = () => { fired = true; };
  d.evaluate('setTimeout(function () { __hit(); }, 5); setInterval(function () { __hit(); }, 5);');
  d.close();
  await new Promise((r) => setTimeout(r, 30));
  await turns();
  assert.equal(fired, false);
});

test('Document API errors', () => {
  assert.throws(() => new pm.Document('not a url'), TypeError);
  assert.throws(() => new pm.Document('http://a/', { delivery: 'later' }), TypeError);
  const d = new pm.Document('http://a.test/');
  assert.throws(() => d.navigate('::'), TypeError);
  d.close();
  d.close(); // idempotent
  assert.equal(d.closed, true);
  assert.throws(() => d.evaluate('1'), /closed/);
  assert.throws(() => d.createIframe('http://b/'), /closed/);
});
