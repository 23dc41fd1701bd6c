// MessageChannel / MessagePort and transfer lists (HTML "Channel messaging").
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { pm, seedPair, turns, until } = require('./helpers');

for (const delivery of ['sync', 'queued']) {
  test(`${delivery}: a channel within one document; messages wait until the port starts`, async () => {
    const d = new pm.Document('http://a.test/', { delivery });
    try {
      d.evaluate(`var ch = new MessageChannel(), got = [];
        ch.port1.postMessage('early-1'); ch.port1.postMessage('early-2');
        ch.port2.addEventListener('message', function (e) { got.push(e.data + '|' + e.origin + '|' + (e.source === null) + '|' + (e.target === ch.port2)); });`);
      await turns();
      assert.deepEqual([...d.evaluate('got')], []); // addEventListener does not start the port
      d.evaluate('ch.port2.start()');
      await until(() => d.evaluate('got.length') === 2);
      d.evaluate('ch.port1.postMessage("late")');
      await until(() => d.evaluate('got.length') === 3);
      assert.deepEqual([...d.evaluate('got')], ['early-1||true|true', 'early-2||true|true', 'late||true|true']);
      assert.equal(d.evaluate('ch.port1 instanceof MessagePort && ch.port1 instanceof EventTarget'), true);
      assert.equal(d.evaluate('Object.prototype.toString.call(ch.port1)'), '[object MessagePort]');
      assert.equal(d.evaluate('try { new MessagePort(); } catch (e) { e instanceof TypeError }'), true);
    } finally {
      d.close();
    }
  });

  test(`${delivery}: setting onmessage starts the port; both directions`, async () => {
    const d = new pm.Document('http://a.test/', { delivery });
    try {
      d.evaluate(`var ch = new MessageChannel(), log = [];
        ch.port1.postMessage('to2');
        ch.port2.onmessage = function (e) { log.push('2:' + e.data); ch.port2.postMessage('to1'); };
        ch.port1.onmessage = function (e) { log.push('1:' + e.data); };`);
      await until(() => d.evaluate('log.length') === 2);
      assert.deepEqual([...d.evaluate('log')], ['2:to2', '1:to1']);
    } finally {
      d.close();
    }
  });

  test(`${delivery}: a port transferred to another document; the sender's copy is neutered`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate(`var got = [], port;
        onmessage = function (e) {
          port = e.ports[0];
          got.push(e.data + ':' + e.ports.length + ':' + (port instanceof MessagePort));
          port.onmessage = function (m) { got.push('via port: ' + m.data); port.postMessage('pong'); };
        };`);
      a.evaluate(`var ch = new MessageChannel(), back = [];
        ch.port1.onmessage = function (e) { back.push(e.data); };
        frames[0].postMessage('here is a port', 'http://localhost', [ch.port2]);
        ch.port1.postMessage('ping');`);
      await until(() => a.evaluate('back.length') === 1);
      assert.deepEqual([...b.evaluate('got')], ['here is a port:1:true', 'via port: ping']);
      assert.deepEqual([...a.evaluate('back')], ['pong']);
      // the transferred port is unusable in A: posting does nothing, transferring again fails
      a.evaluate('ch.port2.postMessage("from a dead port")');
      const r = a.evaluate('try { frames[0].postMessage(1, "*", [ch.port2]); "sent" } catch (e) { e.name }');
      assert.equal(r, 'DataCloneError');
      await turns();
      assert.equal(b.evaluate('got.length'), 2);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: ports inside the message and the { transfer } form`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate(`var r; onmessage = function (e) {
        r = [e.data.port === e.ports[0], e.data.list[1] === e.ports[1], e.data.list[0], e.ports.length, e.data.m.get('p') === e.ports[0]]; };`);
      a.evaluate(`var c1 = new MessageChannel(), c2 = new MessageChannel();
        var msg = { port: c1.port2, list: ['x', c2.port2], m: new Map([['p', c1.port2]]) };
        frames[0].postMessage(msg, { targetOrigin: '*', transfer: [c1.port2, c2.port2] });
        var restored = msg.port === c1.port2 && msg.list[1] === c2.port2;`);
      await until(() => b.evaluate('r !== undefined'));
      assert.deepEqual([...b.evaluate('r')], [true, true, 'x', 2, true]);
      assert.equal(a.evaluate('restored'), true); // the sender's object is left as it was
    } finally {
      a.close();
    }
  });

  test(`${delivery}: transfer list errors: DataCloneError, nothing sent`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate('var got = []; onmessage = function (e) { got.push(e.data); };');
      const cases = {
        'a port in the message but not in transfer': 'var c = new MessageChannel(); frames[0].postMessage({ p: c.port1 }, "*")',
        'a duplicate': 'var c = new MessageChannel(); frames[0].postMessage(1, "*", [c.port1, c.port1])',
        'a non-transferable object': 'frames[0].postMessage(1, "*", [{}])',
        'the source port itself': 'var c = new MessageChannel(); c.port1.postMessage(1, [c.port1])',
        'a closed port': 'var c = new MessageChannel(); c.port1.close(); frames[0].postMessage(1, "*", [c.port1])',
        'a detached ArrayBuffer': 'var ab = new ArrayBuffer(1); structuredClone(ab, { transfer: [ab] }); frames[0].postMessage(ab, "*")',
      };
      for (const [what, src] of Object.entries(cases)) {
        assert.equal(a.evaluate(`try { ${src}; 'sent' } catch (e) { e.name + ':' + (e instanceof DOMException) }`), 'DataCloneError:true', what);
      }
      assert.equal(a.evaluate('try { frames[0].postMessage(1, "*", 5); "sent" } catch (e) { e instanceof TypeError }'), true);
      await turns();
      assert.deepEqual([...b.evaluate('got')], []);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: ArrayBuffer transfer detaches the sender's buffer`, async () => {
    const { a, b } = seedPair({ delivery });
    try {
      b.evaluate('var bytes; onmessage = function (e) { bytes = Array.from(new Uint8Array(e.data.buf)); };');
      const r = a.evaluate(`var buf = new Uint8Array([5, 6, 7]).buffer, view = new Uint8Array(buf);
        frames[0].postMessage({ buf: buf }, '*', [buf]);
        [buf.byteLength, view.length]`);
      assert.deepEqual([...r], [0, 0]);
      await until(() => b.evaluate('bytes !== undefined'));
      assert.deepEqual([...b.evaluate('bytes')], [5, 6, 7]);
      // a post that fails (bad targetOrigin) leaves the buffer attached
      assert.equal(a.evaluate('var keep = new ArrayBuffer(2); try { frames[0].postMessage(keep, "bad", [keep]); } catch (e) {} keep.byteLength'), 2);
    } finally {
      a.close();
    }
  });

  test(`${delivery}: close() disentangles: later posts go nowhere`, async () => {
    const d = new pm.Document('http://a.test/', { delivery });
    try {
      d.evaluate(`var ch = new MessageChannel(), got = [];
        ch.port2.onmessage = function (e) { got.push(e.data); };
        ch.port1.postMessage(1);`);
      await until(() => d.evaluate('got.length') === 1);
      d.evaluate('ch.port2.close(); ch.port1.postMessage(2); ch.port2.postMessage(3); ch.port2.close();');
      await turns();
      assert.deepEqual([...d.evaluate('got')], [1]);
    } finally {
      d.close();
    }
  });
}

test('ports of a closed document are closed', async () => {
  const a = new pm.Document('http://a.test/');
  const b = a.createIframe('http://a.test/frame');
  try {
    b.evaluate('var ch = new MessageChannel(); parent.postMessage("p", "*", [ch.port2]);');
    a.evaluate('var got = [], port; onmessage = function (e) { port = e.ports[0]; port.onmessage = function (m) { got.push(m.data); }; };');
    await until(() => a.evaluate('port !== undefined'));
    b.evaluate('ch.port1.postMessage("before close")');
    await until(() => a.evaluate('got.length') === 1);
    b.close();
    a.evaluate('port.postMessage("into the void")');
    await turns();
    assert.deepEqual([...a.evaluate('got')], ['before close']);
    assert.equal(pm.stats().ports, 1); // only A's port is left
  } finally {
    a.close();
  }
  assert.equal(pm.stats().ports, 0);
});
