// Node.js reference for the postmessage benchmark: MessageChannel round trip in one process.
//
// port1 posts "Hello World" to port2, whose listener posts it back to port1, whose listener posts
// the next one: one round trip = two postMessage calls and two message events. Prints
// "node_rtt_ns <median ns per round trip> <node version>" (median of 9 samples), which
// benches/bench.c reads.
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

(async () => {
  let per = await sample(2000); // warm-up (JIT), and calibration
  const n = Math.max(1000, Math.round(100e6 / per)); // ~100 ms per sample
  const results = [];
  for (let i = 0; i < SAMPLES; i++) results.push(await sample(n));
  results.sort((a, b) => a - b);
  console.log(`node_rtt_ns ${results[SAMPLES >> 1].toFixed(1)} ${process.version}`);
  port1.close();
})();
