// The waker runs on whichever thread queued the message: a post from a worker thread into a
// main-thread document (queued) must wake Node's loop there (the addon's libuv async handle).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { pm, until } = require('./helpers');

test('a message queued from a worker thread is delivered on the main thread', async () => {
  const d = new pm.Document('http://main.test/');
  try {
    d.evaluate('var got = []; onmessage = function (e) { got.push(e.data + "|" + e.origin + "|" + (e.source === null)); };');
    const addon = path.join(__dirname, '..', 'build', 'postmessage.node');
    const w = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      require(${JSON.stringify(require.resolve('..'))}); // this env's own instance
      const native = require(${JSON.stringify(addon)});
      const src = native.windowNew('http://worker.test/');
      const results = [];
      for (let i = 0; i < 3; i++) results.push(native.post(src, workerData.target, 'w' + i, 'http://main.test', undefined));
      native.windowFree(src);
      parentPort.postMessage(results);
    `, { eval: true, workerData: { target: pm.handleOf(d) } });
    const exited = new Promise((r) => w.on('exit', r));
    const results = await new Promise((resolve, reject) => { w.on('message', resolve); w.on('error', reject); });
    assert.deepEqual(results, [0, 0, 0]); // PM_OK: queued
    await until(() => d.evaluate('got.length') === 3);
    assert.deepEqual([...d.evaluate('got')], ['w0|http://worker.test|true', 'w1|http://worker.test|true', 'w2|http://worker.test|true']);
    await exited;
  } finally {
    d.close();
  }
});

test('a listener cannot run on a thread without its JS: sync delivery from a worker is refused, not a crash', async () => {
  const d = new pm.Document('http://main.test/', { delivery: 'sync' });
  try {
    d.evaluate('var got = 0; onmessage = function () { got++; };');
    const before = pm.stats().foreignCalls;
    const addon = path.join(__dirname, '..', 'build', 'postmessage.node');
    const w = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      require(${JSON.stringify(require.resolve('..'))});
      const native = require(${JSON.stringify(addon)});
      const src = native.windowNew('http://worker.test/');
      parentPort.postMessage(native.post(src, workerData.target, 'x', '*', undefined));
      native.windowFree(src);
    `, { eval: true, workerData: { target: pm.handleOf(d) } });
    const exited = new Promise((r) => w.on('exit', r));
    await new Promise((resolve, reject) => { w.on('message', resolve); w.on('error', reject); });
    await exited;
    assert.equal(d.evaluate('got'), 0);
    assert.equal(pm.stats().foreignCalls, before + 1);
  } finally {
    d.close();
  }
});
