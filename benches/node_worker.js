// Node.js reference for the cross-thread row of the postmessage benchmark: MessagePort
// throughput between two threads (worker_threads).
//
// The main thread posts N "Hello World" strings in a row to a worker over a MessageChannel
// port; the worker's listener counts them and answers "done" after the N-th. One sample = the
// time from the first post to the answer, as benches/bench.c measures its producer thread
// posting N messages into a window whose owner thread drains them (woken by its waker).
// Prints "node_xthread_msgs_per_s <median messages/s> <node version>" (median of 9 samples).
'use strict';
const { Worker, MessageChannel, isMainThread, parentPort } = require('worker_threads');

if (!isMainThread) {
  parentPort.once('message', ({ port }) => {
    let want = 0;
    let seen = 0;
    port.on('message', (m) => {
      if (typeof m === 'number') {
        want = m;
        seen = 0;
        return;
      }
      if (++seen === want) port.postMessage('done');
    });
  });
} else {
  const SAMPLES = 9;
  const worker = new Worker(__filename);
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ port: port2 }, [port2]);

  let finished = null;
  port1.on('message', () => finished());

  const sample = (n) =>
    new Promise((resolve) => {
      port1.postMessage(n); // the count to expect (not timed)
      setImmediate(() => {
        const t0 = process.hrtime.bigint();
        finished = () => resolve(n / (Number(process.hrtime.bigint() - t0) * 1e-9));
        for (let i = 0; i < n; i++) port1.postMessage('Hello World');
      });
    });

  (async () => {
    const rate = await sample(20000); // warm-up (JIT), and calibration
    const n = Math.max(10000, Math.round(rate * 0.1)); // ~100 ms per sample
    const results = [];
    for (let i = 0; i < SAMPLES; i++) results.push(await sample(n));
    results.sort((a, b) => a - b);
    console.log(`node_xthread_msgs_per_s ${results[SAMPLES >> 1].toFixed(0)} ${process.version}`);
    await worker.terminate();
  })();
}
