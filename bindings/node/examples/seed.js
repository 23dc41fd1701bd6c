// The seed page's exchange (postMessage, "Examples"), its two snippets run verbatim in two
// documents: A at http://127.0.0.1 holds B at http://localhost in an iframe.
//
//   node bindings/node/examples/seed.js
//
// 1. A posts 'Hello World' to B: it arrives.
// 2. B replies with e.source.postMessage('Hello'): no targetOrigin means "/", B's own origin,
//    so the reply never reaches A, and the console shows Chromium's warning.
// 3. B is reloaded with the corrected reply, e.source.postMessage('Hello', e.origin): it arrives.
'use strict';
const pm = require('..');

// Document B, exactly as the seed prints it.
const SEED_B = `window.addEventListener('message',function(e) {
    if (e.origin == 'http://127.0.0.1') {
        if (e.data == 'Hello World') {
            // We can reply with this
            e.source.postMessage('Hello');
        } else {
            console.log(e);
        }
    }
},false);`;

// Document A, exactly as the seed prints it.
const SEED_A = `var targetframe = document.getElementsByTagName('iframe')[0];
targetframe.contentWindow.postMessage('Hello World','http://localhost');`;

// One extra listener per document, so the output shows what arrived.
const SHOW = (name) => `window.addEventListener('message', function (e) {
    console.log('${name} received ' + JSON.stringify(e.data) + ' from ' + e.origin);
});`;

const a = new pm.Document('http://127.0.0.1/index.html');
const b = a.createIframe('http://localhost/frame.html');

console.log('-- A posts; B replies with the seed\'s e.source.postMessage(\'Hello\')');
b.evaluate(SEED_B, 'http://localhost/frame.html');
b.evaluate(SHOW('B'), 'show.js');
a.evaluate(SHOW('A'), 'show.js');
a.evaluate(SEED_A, 'http://127.0.0.1/index.html');

// Queued delivery (the HTML standard's): the messages above are delivered as tasks on Node's
// event loop once this script's turn ends. When both queues are empty, B is reloaded with the
// corrected reply.
async function delivered() {
  do await new Promise((r) => setImmediate(r)); while (a.pending || b.pending);
}

delivered().then(async () => {
  console.log('-- B reloaded with e.source.postMessage(\'Hello\', e.origin)');
  b.navigate('http://localhost/frame.html');
  b.evaluate(SEED_B.replace("e.source.postMessage('Hello');", "e.source.postMessage('Hello', e.origin);"), 'http://localhost/frame.html');
  b.evaluate(SHOW('B'), 'show.js');
  a.evaluate(SEED_A, 'http://127.0.0.1/index.html');
  await delivered();
  a.close();
});
