// examples/seed.js prints the seed's exchange: arrival, the dropped reply's warning, the fix.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

test('examples/seed.js', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'examples', 'seed.js')], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    "-- A posts; B replies with the seed's e.source.postMessage('Hello')",
    'B received "Hello World" from http://127.0.0.1',
    "-- B reloaded with e.source.postMessage('Hello', e.origin)",
    'B received "Hello World" from http://127.0.0.1',
    'A received "Hello" from http://localhost',
  ]);
  assert.equal(r.stderr.trim(), "Failed to execute 'postMessage' on 'DOMWindow': The target origin provided ('http://localhost') does not match the recipient window's origin ('http://127.0.0.1').");
});
