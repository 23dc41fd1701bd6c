// Many documents created, messaged and closed: memory must stay flat (no leak in the addon, the
// library or the JS bookkeeping).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const v8 = require('node:v8');
const vm = require('node:vm');
const { pm, until } = require('./helpers');

// Runs when the test runner passes --expose-gc, and without it too.
v8.setFlagsFromString('--expose-gc');
const gc = globalThis.gc || vm.runInNewContext('gc');

async function round(n) {
  for (let i = 0; i < n; i++) {
    const a = new pm.Document(`http://a${i % 7}.test/`);
    const b = a.createIframe(`http://b${i % 5}.test/`);
    b.evaluate('var got = 0; onmessage = function (e) { got++; e.ports.forEach(function (p) { p.postMessage("bye"); p.close(); }); };');
    a.evaluate(`var ch = new MessageChannel(); ch.port1.onmessage = function () {};
      frames[0].postMessage({ big: new Array(64).fill("x") }, "*", [ch.port2]);
      var bc = new BroadcastChannel("churn"); bc.postMessage(1);
      setTimeout(function () {}, 100000);`);
    await until(() => b.evaluate('got') === 1);
    a.close();
  }
}

async function settle() {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().rss;
}

test('creating and closing many documents keeps RSS flat', async () => {
  await round(150); // warm up: JIT code, pools, the allocator's high-water marks
  const base = await settle();
  await round(300);
  const mid = await settle();
  await round(300);
  const end = await settle();
  const stats = pm.stats();
  assert.deepEqual({ windows: stats.windows, ports: stats.ports, channels: stats.channels }, { windows: 0, ports: 0, channels: 0 });
  const mib = (x) => (x / 1048576).toFixed(1);
  const growth = end - mid;
  // A leak of one realm per document would be ~0.5-2 MiB each: 300 documents, hundreds of MiB.
  assert.ok(growth < 24 * 1048576, `RSS grew from ${mib(mid)} to ${mib(end)} MiB over the last 300 documents (base ${mib(base)})`);
});
