// Navigation: a new document (realm, origin) in the same browsing context.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { pm, seedPair, turns, until } = require('./helpers');

test('a message queued for the old document never reaches the new one', async () => {
  const { a, b } = seedPair({ warnOnDrop: false });
  try {
    b.evaluate('var got = []; onmessage = function (e) { got.push(e.data); };');
    a.evaluate('frames[0].postMessage("for the old document", "*")');
    assert.equal(b.pending, 1);
    const oldWindow = b.window;
    b.navigate('http://localhost/next.html');
    assert.notEqual(b.window, oldWindow);          // a new realm
    b.evaluate('var got = []; onmessage = function (e) { got.push(e.data); };');
    await turns();
    assert.deepEqual([...b.evaluate('got')], []);
    a.evaluate('frames[0].postMessage("for the new document", "*")');
    await until(() => b.evaluate('got.length') === 1);
    assert.deepEqual([...b.evaluate('got')], ['for the new document']);
  } finally {
    a.close();
  }
});

test('navigation changes the origin; WindowProxies follow the browsing context', async () => {
  const { a, b } = seedPair({ warnOnDrop: false });
  try {
    a.evaluate('var w = frames[0];');
    b.navigate('http://127.0.0.1/now-same-origin.html');
    assert.equal(b.evaluate('origin'), 'http://127.0.0.1');
    assert.equal(b.evaluate('location.pathname'), '/now-same-origin.html');
    b.evaluate('var marker = "new doc"; var got = []; onmessage = function (e) { got.push(e.data); };');
    // A's old WindowProxy now reaches the new, same-origin document
    assert.equal(a.evaluate('w.marker'), 'new doc');
    a.evaluate('w.postMessage("to 127", "http://127.0.0.1"); w.postMessage("to localhost", "http://localhost");');
    await turns();
    assert.deepEqual([...b.evaluate('got')], ['to 127']);
    // a message to about:blank (a new opaque origin) is only reachable with "*"
    b.navigate('about:blank');
    assert.equal(b.evaluate('origin'), 'null');
  } finally {
    a.close();
  }
});

test("navigation discards the old document's iframes, ports, channels and timers", async () => {
  const a = new pm.Document('http://a.test/');
  const b = a.createIframe('http://a.test/b');
  b.createIframe('http://a.test/c');
  try {
    let fired = false;
    b.window.__hit = () => { fired = true; };
    b.evaluate('var ch = new MessageChannel(); var bc = new BroadcastChannel("x"); setTimeout(function () { __hit(); }, 5);');
    assert.equal(b.evaluate('length'), 1);
    const before = pm.stats();
    b.navigate('http://a.test/b2');
    assert.equal(b.evaluate('length'), 0);
    const after = pm.stats();
    assert.equal(after.windows, before.windows - 1);
    assert.equal(after.ports, before.ports - 2);
    assert.equal(after.channels, before.channels - 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(fired, false);
  } finally {
    a.close();
  }
});

test('a script of a navigated-away document cannot post as the new one', async () => {
  const a = new pm.Document('http://127.0.0.1/');
  const b = a.createIframe('http://localhost/');
  try {
    a.evaluate('var got = []; onmessage = function (e) { got.push(e.data + "|" + e.origin); };');
    const stale = b.evaluate('(function () { parent.postMessage("stale", "*"); })');
    b.navigate('http://evil.test/');
    stale();
    await turns();
    assert.deepEqual([...a.evaluate('got')], []);
  } finally {
    a.close();
  }
});
