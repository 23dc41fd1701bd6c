// The seed page's exchange (postMessage, "Examples"), run verbatim in two documents:
// Document A at http://127.0.0.1 holds Document B at http://localhost in an iframe.
//
//   node bindings/node/examples/seed.js
'use strict';
const pm = require('..');

const a = new pm.Document('http://127.0.0.1/index.html');
const b = a.createIframe('http://localhost/frame.html');

// Document B, exactly as the seed prints it, plus one line so the output shows what arrived.
b.evaluate(`
window.addEventListener('message',function(e) {
    if (e.origin == 'http://127.0.0.1') {
        if (e.data == 'Hello World') {
            // We can reply with this
            e.source.postMessage('Hello');
        } else {
            console.log(e);
        }
    }
},false);
window.addEventListener('message', function (e) {
    console.log('B received ' + JSON.stringify(e.data) + ' from ' + e.origin);
});
`, 'documentB.js');

// Document A hears replies.
a.evaluate(`
window.addEventListener('message', function (e) {
    console.log('A received ' + JSON.stringify(e.data) + ' from ' + e.origin);
});
`, 'documentA-listener.js');

// Document A, exactly as the seed prints it.
a.evaluate(`
var targetframe = document.getElementsByTagName('iframe')[0];
targetframe.contentWindow.postMessage('Hello World','http://localhost');
`, 'documentA.js');

// The seed's reply has no targetOrigin, so it means "/" (B's own origin) and never reaches A:
// the console shows Chromium's warning. Once the queued messages are delivered, B switches to
// the corrected reply, and A posts again.
setTimeout(() => {
  console.log('-- B now replies with e.source.postMessage(\'Hello\', e.origin)');
  b.navigate('http://localhost/frame.html');
  b.evaluate(`
window.addEventListener('message',function(e) {
    if (e.origin == 'http://127.0.0.1') {
        if (e.data == 'Hello World') {
            e.source.postMessage('Hello', e.origin);
        } else {
            console.log(e);
        }
    }
},false);
window.addEventListener('message', function (e) {
    console.log('B received ' + JSON.stringify(e.data) + ' from ' + e.origin);
});
`, 'documentB-fixed.js');
  a.evaluate(`
var targetframe = document.getElementsByTagName('iframe')[0];
targetframe.contentWindow.postMessage('Hello World','http://localhost');
`, 'documentA.js');
  setTimeout(() => a.close(), 10);
}, 10);
