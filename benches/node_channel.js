// Node.js reference for the postmessage benchmark: MessageChannel round trip in one process.
//
// port1 posts "Hello World" to port2, whose listener posts it back to port1, whose listener posts
// the next one: one round trip = two postMessage calls and two message events. Prints
// "node_rtt_ns <median ns per round trip> <node version>" (median of 9 samples), which
// benches/bench.c reads. Then the queued paths' reference: port1 posts N messages in a row and
// port2's listener drains them (the event loop delivers them after the posting loop returns),
// as bench.c's queued cases post N then run_pending: "node_drain_ns <median ns per message>".
'use strict';
const { MessageChannel } = require('worker_threads');

const SAMPLES = 9;
const { port1, port2 } = new MessageChannel();
port2.on('message', (m) => port2.postMessage(m));

let remaining = 0;
let done = null;
port1.on('message', (m) => {
  if (--remaining > 0) port1.postMessage(m);
  else done();
});

function sample(n) {
  return new Promise((resolve) => {
    remaining = n;
    const t0 = process.hrtime.bigint();
    done = () => resolve(Number(process.hrtime.bigint() - t0) / n);
    port1.postMessage('Hello World');
  });
}

// Post-N-then-drain on a second channel: one sample = n posts, then n message events.
const drain = new MessageChannel();
let drainLeft = 0;
let drainDone = null;
drain.port2.on('message', () => {
  if (--drainLeft === 0) drainDone();
});

function drainSample(n) {
  return new Promise((resolve) => {
    drainLeft = n;
    const t0 = process.hrtime.bigint();
    drainDone = () => resolve(Number(process.hrtime.bigint() - t0) / n);
    for (let i = 0; i < n; i++) drain.port1.postMessage('Hello World');
  });
}

async function median(fn) {
  const per = await fn(2000); // warm-up (JIT), and calibration
  const n = Math.max(1000, Math.round(100e6 / per)); // ~100 ms per sample
  const results = [];
  for (let i = 0; i < SAMPLES; i++) results.push(await fn(n));
  results.sort((a, b) => a - b);
  return results[SAMPLES >> 1];
}

(async () => {
  const rtt = await median(sample);
  console.log(`node_rtt_ns ${rtt.toFixed(1)} ${process.version}`);
  port1.close();
  const per = await median(drainSample);
  console.log(`node_drain_ns ${per.toFixed(1)} ${process.version}`);
  drain.port1.close();
})();
