// Shared helpers for the binding's tests.
'use strict';
const pm = require('..');

/** Lets queued deliveries run: a few turns of the event loop. */
async function turns(n = 5) {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Waits until pred() holds (checked each loop turn); fails after `ms`. */
async function until(pred, ms = 20000) { // generous: CI machines can be very busy
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${pred}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** A console that records what the documents print. */
function recorder() {
  const lines = { log: [], warn: [], error: [] };
  const c = {
    log: (...a) => lines.log.push(a.map(String).join(' ')),
    warn: (...a) => lines.warn.push(a.map(String).join(' ')),
    error: (...a) => lines.error.push(a.map((x) => (x && x.message) || String(x)).join(' ')),
    info: (...a) => lines.log.push(a.map(String).join(' ')),
    debug: (...a) => lines.log.push(a.map(String).join(' ')),
  };
  return { console: c, lines };
}

/** A top-level document A at 127.0.0.1 with an iframe B at localhost (the seed's pair). */
function seedPair(options = {}) {
  const a = new pm.Document('http://127.0.0.1/index.html', options);
  const b = a.createIframe('http://localhost/frame.html');
  return { a, b };
}

module.exports = { pm, turns, until, recorder, seedPair };
