// BroadcastChannel: same-origin documents, never the sender, in creation order.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { pm, turns, until } = require('./helpers');

for (const delivery of ['sync', 'queued']) {
  test(`${delivery}: a broadcast reaches every other same-origin channel of that name`, async () => {
    const top = new pm.Document('http://app.test/', { delivery });
    const same = top.createIframe('http://app.test/frame');
    const other = top.createIframe('http://other.test/frame');
    const sameTop = new pm.Document('http://app.test/second', { delivery });
    try {
      const listen = 'var got = []; var bc = new BroadcastChannel("news"); bc.onmessage = function (e) { got.push(e.data + "|" + e.origin + "|" + (e.source === null) + "|" + (e.target === bc)); };';
      for (const d of [top, same, other, sameTop]) d.evaluate(listen);
      same.evaluate('var wrongName = new BroadcastChannel("sports"), wrong = []; wrongName.onmessage = function (e) { wrong.push(e.data); };');
      top.evaluate('bc.postMessage("m1"); bc.postMessage({ n: 2 })');
      await until(() => same.evaluate('got.length') === 2 && sameTop.evaluate('got.length') === 2);
      await turns();
      assert.deepEqual([...same.evaluate('got')], ['m1|http://app.test|true|true', '[object Object]|http://app.test|true|true']);
      assert.deepEqual([...sameTop.evaluate('got')], ['m1|http://app.test|true|true', '[object Object]|http://app.test|true|true']);
      assert.deepEqual([...top.evaluate('got')], []);   // not the sender
      assert.deepEqual([...other.evaluate('got')], []); // not another origin
      assert.deepEqual([...same.evaluate('wrong')], []);
      assert.equal(same.evaluate('bc.name'), 'news');
    } finally {
      top.close();
      sameTop.close();
    }
  });

  test(`${delivery}: a closed channel neither sends nor receives`, async () => {
    const a = new pm.Document('http://app.test/', { delivery });
    const b = new pm.Document('http://app.test/b', { delivery });
    try {
      a.evaluate('var bc = new BroadcastChannel("c");');
      b.evaluate('var got = []; var bc = new BroadcastChannel("c"); bc.onmessage = function (e) { got.push(e.data); };');
      a.evaluate('bc.postMessage(1)');
      await until(() => b.evaluate('got.length') === 1);
      b.evaluate('bc.close()');
      a.evaluate('bc.postMessage(2)');
      await turns();
      assert.deepEqual([...b.evaluate('got')], [1]);
      assert.equal(b.evaluate('try { bc.postMessage(3); "sent" } catch (e) { e.name + ":" + (e instanceof DOMException) }'), 'InvalidStateError:true');
      assert.equal(a.evaluate('try { bc.postMessage(function () {}); } catch (e) { e.name }'), 'DataCloneError');
    } finally {
      a.close();
      b.close();
    }
    assert.equal(pm.stats().channels, 0);
  });
}
