// make bench row: a queued post from one document to a listener in another, per message (post N,
// then let the loop drain), against Node's own MessageChannel measured the same way in the same
// run (both serialize: Node with V8's serializer, the binding encodes strings itself). Also the
// synchronous mode (the seed's delivery). Prints the rows; exits 1 when the ratio target (<= 1.0)
// is missed.
//
// The machine may be shared: samples of the two are taken back to back, in turns, and the ratio
// is the median of the per-turn ratios, so load that comes and goes affects both sides of a
// turn alike. The per-message rows are the medians of each side's samples.
//
//   node bindings/node/bench/queued.js [N]
'use strict';
const { MessageChannel } = require('node:worker_threads');
const pm = require('..');

const N = Number(process.argv[2]) || 5000;
const SAMPLES = 15;
const MESSAGE = 'Hello World';

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

// Node: port1 posts N, port2's listener counts them.
async function nodeSample() {
  const { port1, port2 } = new MessageChannel();
  let got = 0;
  let done;
  const finished = new Promise((r) => { done = r; });
  port2.on('message', () => { if (++got === N) done(); });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) port1.postMessage(MESSAGE);
  await finished;
  const ns = Number(process.hrtime.bigint() - t0) / N;
  port1.close();
  return ns;
}

// postmessage: document A posts N to its iframe B, B's listener counts. The documents are made
// once per mode and reused, as the MessageChannel is warm too (a new realm starts cold).
const docs = {};
function documents(delivery) {
  if (docs[delivery]) return docs[delivery];
  const a = new pm.Document('http://127.0.0.1/index.html', { delivery });
  const b = a.createIframe('http://localhost/frame.html');
  const d = { a, b, done: null };
  b.window.__done = () => d.done();
  d.reset = b.evaluate(`(function () {
    var got = 0, want = 0, done = __done;
    addEventListener('message', function (e) { if (++got === want) done(); });
    return function (n) { got = 0; want = n; };
  })()`);
  d.post = a.evaluate(`(function (n, m) { var w = frames[0]; for (var i = 0; i < n; i++) w.postMessage(m, 'http://localhost'); })`);
  docs[delivery] = d;
  return d;
}

async function pmSample(delivery) {
  const d = documents(delivery);
  d.reset(N);
  const finished = new Promise((r) => { d.done = r; });
  const t0 = process.hrtime.bigint();
  d.post(N, MESSAGE);
  await finished;
  return Number(process.hrtime.bigint() - t0) / N;
}

(async () => {
  // warm up both paths
  await nodeSample();
  await pmSample('queued');
  await pmSample('sync');
  const node = [];
  const queued = [];
  const sync = [];
  for (let i = 0; i < SAMPLES; i++) {
    node.push(await nodeSample());
    queued.push(await pmSample('queued'));
    sync.push(await pmSample('sync'));
  }
  const n = median(node);
  const q = median(queued);
  const s = median(sync);
  const ratio = median(queued.map((x, i) => x / node[i]));
  const pass = ratio <= 1.0;
  const f = (x) => `${x.toFixed(0)} ns`;
  console.log(`node binding: queued post A->B listener, per message (N=${N}, median of ${SAMPLES})  ${f(q)}`);
  console.log(`node binding: Node ${process.version} MessageChannel, same way                   ${f(n)}`);
  console.log(`node binding: queued / MessageChannel = ${ratio.toFixed(2)} (median of per-turn ratios; target <= 1.0)  ${pass ? 'PASS' : 'FAIL'}`);
  console.log(`node binding: sync post A->B listener, per message (the seed's mode)       ${f(s)}`);
  for (const d of Object.values(docs)) d.a.close();
  process.exitCode = pass ? 0 : 1;
})();
