// The addon's entry points with bad arguments: forged, freed or wrong-typed handles, strings
// with NUL, non-arrays... Each must return an error code or throw, never crash the process.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
require('..'); // registers the callbacks
const native = require(path.join(__dirname, '..', 'build', 'postmessage.node'));

const R = { OK: 0, NULL_ARGUMENT: 2, INVALID_HANDLE: 3, SYNTAX: 4, INVALID_URL: 5 };

test('forged, freed and wrong-typed handles are errors', () => {
  const w = native.windowNew('http://a.test/');
  const other = native.windowNew('http://b.test/');
  assert.equal(typeof w, 'bigint');
  const [p1, p2] = native.channelNew(w);
  assert.equal(native.windowFree(w), R.OK);
  const bad = [w /* freed */, p1 /* freed with w */, 1n, 12345n, 2n ** 63n, 2n ** 64n - 1n, 0n, -1n, 2n ** 70n, 7, 'x', null, undefined, {}, []];
  for (const h of bad) {
    const label = typeof h === 'bigint' ? `${h}n` : JSON.stringify(h) ?? String(h);
    // pm_window_free(NULL) is a no-op PM_OK; values that are not a 64-bit BigInt become NULL
    const nullish = typeof h !== 'bigint' || h <= 0n || h >= 2n ** 64n;
    assert.equal(native.windowFree(h), nullish ? R.OK : R.INVALID_HANDLE, `windowFree(${label})`);
    assert.ok([R.NULL_ARGUMENT, R.INVALID_HANDLE].includes(native.windowNavigate(h, 'http://c/')), label);
    assert.equal(native.windowOrigin(h), '', label);
    assert.equal(native.windowListen(h, 1), 0, label);
    assert.equal(native.windowPending(h), 0, label);
    assert.equal(native.windowRunPending(h, 10), 0, label);
    assert.notEqual(native.windowSetQueued(h, true), R.OK, label);
    assert.notEqual(native.setQueueLimit(h, 1, 1), R.OK, label);
    assert.notEqual(native.post(h, other, 'x', '*', undefined), R.OK, label);
    assert.notEqual(native.post(other, h, 'x', '*', undefined), R.OK, label);
    assert.notEqual(native.post(other, other, 'x', '*', [h]), R.OK, label);
    assert.equal(typeof native.channelNew(h), 'number', label);
    assert.notEqual(native.portPost(h, 'x', undefined), R.OK, label);
    assert.equal(native.portListen(h, 1), 0, label);
    assert.equal(native.portClose(h), nullish ? R.OK : R.INVALID_HANDLE, label); // destructors: NULL is a no-op
    assert.equal(native.broadcastNew(h, 'n', 1), 0n, label);
    assert.notEqual(native.broadcastPost(h, 'x'), R.OK, label);
    assert.equal(native.broadcastClose(h), nullish ? R.OK : R.INVALID_HANDLE, label);
    if (h !== undefined) assert.equal(native.windowNew('http://c/', h), 0n, label); // an iframe of nothing (undefined: top-level)
  }
  assert.notEqual(native.portPost(p2, 'x', undefined), R.OK); // closed with its window
  assert.equal(native.windowFree(other), R.OK);
});

test('wrong-typed data, origins, URLs and transfer lists throw or are errors', () => {
  const w = native.windowNew('http://a.test/');
  try {
    for (const data of [5, null, undefined, {}, [1], new Uint16Array(2)]) {
      assert.throws(() => native.post(w, w, data, '*', undefined), TypeError);
    }
    assert.throws(() => native.post(w, w, 'x', 5, undefined), TypeError);
    assert.throws(() => native.post(w, w, 'x', '*', 'not an array'), TypeError);
    assert.equal(native.post(w, w, 'x', 'http://a\0b', undefined), R.SYNTAX); // a NUL cannot hide a suffix
    assert.equal(native.post(w, w, new Uint8Array(0), '*', undefined), R.OK);
    assert.equal(native.post(w, w, 'x'.repeat(100000), '*', undefined), R.OK); // past the stack buffer
    assert.equal(native.post(w, w, 'x', 'http://' + 'a'.repeat(1000) + '.test', undefined), 1 /* DROPPED */);
    assert.throws(() => native.windowNew(5), TypeError);
    assert.throws(() => native.windowNew('http://a\0.test/'), TypeError);
    assert.equal(native.windowNew('not a url'), 0n);
    assert.match(native.lastError(), /URL/i);
    assert.equal(native.windowNavigate(w, '::'), R.INVALID_URL);
    assert.throws(() => native.init(1, 2, 3, 4, 5), TypeError);
    // a payload that is not one of ours arrives as messageerror, not a crash (checked in a child)
  } finally {
    native.windowFree(w);
  }
});

test('bytes that are not a message of ours arrive as messageerror, not a crash', () => {
  const pm = require('..');
  const d = new pm.Document('http://a.test/', { delivery: 'sync' });
  const src = native.windowNew('http://b.test/');
  try {
    d.evaluate('var log = []; onmessage = function (e) { log.push("message:" + e.data); }; onmessageerror = function (e) { log.push("error:" + e.data + ":" + e.origin); };');
    const target = pm.handleOf(d);
    const junk = [[1, 0xff, 0x0f], [2, 1, 2, 3], [1], [3], [9, 9], [2], [], [1, 0xff, 0x0d, 0x22, 0xff, 0xff, 0xff, 0xff, 0x0f]];
    for (const bytes of junk) assert.equal(native.post(src, target, Buffer.from(bytes), '*', undefined), R.OK);
    const log = [...d.evaluate('log')];
    assert.equal(log.length, junk.length);
    // [3] is an empty string message (tag 3, no padding byte: odd length, so not a string: error)
    assert.ok(log.every((x) => x === 'error:null:http://b.test'), log.join());
  } finally {
    native.windowFree(src);
    d.close();
  }
});
