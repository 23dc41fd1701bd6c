// postmessage for Node.js: documents with their own realms (node:vm contexts) that message each
// other through libpostmessage, with the HTML standard's window.postMessage, MessageChannel and
// BroadcastChannel semantics.
//
// Layers: src/addon.c (the thin native edge) <- this file (documents, realms, structured clone,
// transfer bookkeeping, WindowProxy access rules) <- realm.js (the globals inside each realm).
'use strict';
const vm = require('node:vm');
const v8 = require('node:v8');
const path = require('node:path');
const { isArrayBuffer } = require('node:util').types;
const { installSource } = require('./realm.js');

const native = require(path.join(__dirname, '..', 'build', 'postmessage.node'));

// pm_result values (include/postmessage.h).
const R = {
  OK: 0, DROPPED: 1, NULL_ARGUMENT: 2, INVALID_HANDLE: 3, SYNTAX: 4, INVALID_URL: 5, UTF8: 6,
  DEPTH: 7, PANIC: 8, DATA_CLONE: 9, CLOSED: 10, QUEUE_FULL: 11, INVALID_ARGUMENT: 12,
};
const DROP_ORIGIN_MISMATCH = 1;

// Handles are BigInts; what the addon's listeners report is the small integer id given here.
let nextId = 1;
const windows = new Map();        // pm_window handle -> BrowsingContext
const windowsById = new Map();    // id -> BrowsingContext
const portsByHandle = new Map();  // pm_port handle -> port object (a realm's MessagePort proxy)
const portsById = new Map();      // listening port's id -> port object
const portInfo = new WeakMap();   // port object -> { h, id, realm, started, closed }
const channelsByHandle = new Map(); // pm_broadcast handle -> BroadcastChannel
const channelsById = new Map();     // id -> BroadcastChannel
const channelInfo = new WeakMap();  // BroadcastChannel -> { h, id, name, realm }
const proxyInfo = new WeakMap();    // WindowProxy -> { realm, bc }

// ---- structured clone ------------------------------------------------------------------------
// The wire format: a string message is passed to the addon as is and encoded there (tag 3,
// UTF-16); anything else is a tag byte and V8's structured serialization (the format Node's own
// MessagePort uses): tag 1, or tag 2 when transferred ports inside the message were replaced by
// markers.
const PORT_MARK = `__postmessage_port_${process.pid}_${Math.random().toString(36).slice(2)}`;
const TAG_V8 = Buffer.of(1);
const TAG_V8_PORTS = Buffer.of(2);

function cloneError(realm, message) {
  return new realm.api.DOMException(message, 'DataCloneError');
}

const NO_PORTS = Object.freeze([]);
const NO_TRANSFER = Object.freeze({ ports: NO_PORTS, buffers: Object.freeze([]) });

// Checks a transfer list: every entry a port (ours, open) or an ArrayBuffer, no duplicates.
function checkTransfer(realm, transfer, selfPort) {
  if (transfer === undefined || transfer === null) return NO_TRANSFER;
  const ports = [];
  const buffers = [];
  if (typeof transfer !== 'object' || typeof transfer[Symbol.iterator] !== 'function') {
    throw new realm.TypeError("Failed to execute 'postMessage': The provided value cannot be converted to a sequence.");
  }
  const seen = new Set();
  for (const t of transfer) {
    if (seen.has(t)) throw cloneError(realm, 'Transfer list contains a duplicate entry.');
    seen.add(t);
    const info = portInfo.get(t);
    if (info) {
      if (t === selfPort) throw cloneError(realm, 'Port at index 0 contains the source port.');
      if (info.h === null) throw cloneError(realm, 'Port is already detached or closed.');
      ports.push(t);
    } else if (isArrayBuffer(t)) {
      if (t.detached === true) throw cloneError(realm, 'An ArrayBuffer is detached and could not be cloned.');
      buffers.push(t);
    } else {
      throw cloneError(realm, 'Value does not have a transferable type.');
    }
  }
  return { ports, buffers };
}

// Swaps each transferred port found in the message for a marker (restored afterwards), so the
// serializer sees plain objects. Only runs when the transfer list holds ports.
function markPorts(value, ports) {
  const swaps = [];
  const index = new Map(ports.map((p, i) => [p, i]));
  const seen = new Set();
  const visit = (v) => {
    if (v === null || typeof v !== 'object' || seen.has(v) || index.has(v)) return;
    seen.add(v);
    if (v instanceof Map || Object.prototype.toString.call(v) === '[object Map]') {
      for (const [k, x] of v) {
        if (index.has(x)) { swaps.push(() => v.set(k, x)); v.set(k, { [PORT_MARK]: index.get(x) }); } else visit(x);
      }
      return;
    }
    if (Object.prototype.toString.call(v) === '[object Set]') return; // a port in a Set stays unserializable
    for (const k of Object.keys(v)) {
      const x = v[k];
      if (index.has(x)) {
        swaps.push(() => { v[k] = x; });
        v[k] = { [PORT_MARK]: index.get(x) };
      } else visit(x);
    }
  };
  if (index.has(value)) return { value: { [PORT_MARK]: index.get(value) }, restore: () => {}, marked: true };
  visit(value);
  return { value, restore: () => { for (let i = swaps.length - 1; i >= 0; i--) swaps[i](); }, marked: swaps.length > 0 };
}

function unmarkPorts(value, ports) {
  const seen = new Set();
  const fix = (v) => {
    if (v === null || typeof v !== 'object') return v;
    if (Object.prototype.hasOwnProperty.call(v, PORT_MARK)) return ports[v[PORT_MARK]] ?? null;
    if (seen.has(v)) return v;
    seen.add(v);
    if (v instanceof Map) { for (const [k, x] of v) v.set(k, fix(x)); return v; }
    for (const k of Object.keys(v)) v[k] = fix(v[k]);
    return v;
  };
  return fix(value);
}

function serialize(realm, message, ports) {
  if (typeof message === 'string') return message;
  let value = message;
  let restore = null;
  let tag = TAG_V8;
  if (ports.length) {
    const m = markPorts(message, ports);
    value = m.value;
    restore = m.restore;
    if (m.marked) tag = TAG_V8_PORTS;
  }
  try {
    const ser = new v8.Serializer(); // views stay views of one shared buffer (Node's Default* would copy each)
    ser.writeRawBytes(tag);
    ser.writeHeader();
    ser.writeValue(value);
    return ser.releaseBuffer();
  } catch (e) {
    if (e instanceof realm.api.DOMException) throw e;
    throw cloneError(realm, e && e.message ? e.message : String(e));
  } finally {
    if (restore) restore();
  }
}

function deserialize(realm, data, ports) {
  if (typeof data === 'string') return data;
  const tag = data[0];
  if (tag !== 1 && tag !== 2) throw new TypeError('not a postmessage payload');
  const des = new v8.Deserializer(data);
  des.readRawBytes(1);
  des.readHeader();
  let value = des.readValue();
  if (tag === 2) value = unmarkPorts(value, ports);
  return value !== null && typeof value === 'object' ? realm.api.adopt(value) : value;
}

// After a successful post: the sender's transferred objects become unusable.
function commitTransfer(ports, buffers) {
  for (const p of ports) {
    const info = portInfo.get(p);
    portsByHandle.delete(info.h);
    portsById.delete(info.id);
    info.realm.ports.delete(p);
    info.h = null;
    info.closed = true;
  }
  for (const b of buffers) structuredClone(b, { transfer: [b] }); // detaches b
}

function throwForResult(realm, r, what) {
  const D = realm.api.DOMException;
  switch (r) {
    case R.SYNTAX: throw new D(`Failed to execute '${what}': Invalid target origin in the 'postMessage' call.`, 'SyntaxError');
    case R.DATA_CLONE: throw new D(`Failed to execute '${what}': ${native.lastError()}`, 'DataCloneError');
    case R.QUEUE_FULL: throw new D(`Failed to execute '${what}': ${native.lastError()}`, 'QuotaExceededError');
    case R.DEPTH: throw new RangeError(`Failed to execute '${what}': ${native.lastError()}`);
    default: throw new Error(`Failed to execute '${what}': ${native.lastError()} (pm_result ${r})`);
  }
}

// ---- browsing contexts and realms ------------------------------------------------------------

// One pm_window: what the JS API calls a Document (it keeps its identity across navigation,
// like a browsing context; `window` is the current document's global).
class BrowsingContext {
  constructor(h, url, parent, options) {
    this.h = h;
    this.id = nextId++;
    this.url = url;
    this.parent = parent;
    this.children = [];
    this.options = options;
    this.closed = false;
    this.realm = null;
    this.delivery = options.delivery;
    this.navigatedAt = 0; // navCount when this context last navigated
  }
  get top() { let b = this; while (b.parent) b = b.parent; return b; }
  get origin() { return native.windowOrigin(this.h); }
}

function createRealm(bc) {
  const ctx = vm.createContext({}, { name: bc.url });
  const global = vm.runInContext('globalThis', ctx);
  const realm = { bc, ctx, global, api: null, TypeError: vm.runInContext('TypeError', ctx), alive: true, proxies: new Map(), iframes: new Map(), timers: new Set(), ports: new Set(), channels: new Set(), location: null };
  const install = vm.runInContext(installSource, ctx, { filename: 'postmessage:realm.js' });
  realm.api = install(global, makeHost(realm));
  bc.realm = realm;
  if (native.windowListen(bc.h, bc.id) === 0) throw new Error(`postmessage: cannot listen on the window: ${native.lastError()}`);
  return realm;
}

// Ends a realm (navigation or close): its timers stop; its ports and channels, which the
// library closed with the document, become closed objects.
function retireRealm(realm) {
  realm.alive = false;
  for (const t of realm.timers) clearTimeout(t);
  realm.timers.clear();
  for (const p of realm.ports) {
    const info = portInfo.get(p);
    if (info.h !== null) portsByHandle.delete(info.h);
    portsById.delete(info.id);
    info.h = null;
    info.closed = true;
  }
  realm.ports.clear();
  for (const c of realm.channels) {
    const info = channelInfo.get(c);
    if (info.h !== null) channelsByHandle.delete(info.h);
    channelsById.delete(info.id);
    info.h = null;
  }
  realm.channels.clear();
  realm.proxies.clear();
  realm.iframes.clear();
}

// Closes a browsing context and its descendants on the JS side (the library frees them).
function retireContext(bc) {
  for (const c of bc.children) retireContext(c);
  bc.children = [];
  bc.closed = true;
  windows.delete(bc.h);
  windowsById.delete(bc.id);
  if (bc.realm) retireRealm(bc.realm);
}

// window[i] / frames[i]: the i-th child browsing context, as the global's indexed properties.
function syncFrameIndexes(bc) {
  const realm = bc.realm;
  if (!realm || !realm.alive) return;
  const n = bc.children.length;
  for (let i = 0; i < n; i++) {
    if (Object.getOwnPropertyDescriptor(realm.global, i)) continue;
    Object.defineProperty(realm.global, i, {
      configurable: true,
      enumerable: true,
      get: () => { const c = bc.children[i]; return c && realm.alive ? windowProxy(realm, c) : undefined; },
    });
  }
  for (let i = n; Object.getOwnPropertyDescriptor(realm.global, i); i++) delete realm.global[i];
}

function sameOrigin(a, b) {
  if (a === b) return true;
  const oa = a.origin;
  return oa !== 'null' && oa === b.origin;
}

// The WindowProxy through which `realm` reaches browsing context `bc` (iframe.contentWindow,
// parent, top, event.source). Same origin: the window itself, minus the incumbent fix-up for
// postMessage. Cross-origin: only what HTML's CrossOriginProperties allow; anything else is a
// SecurityError.
// (HTML also allows `location` and `opener` cross-origin; these documents have neither.)
const CROSS_ORIGIN = new Set(['window', 'self', 'close', 'closed', 'focus', 'blur', 'frames', 'length', 'top', 'parent', 'postMessage']);
const CROSS_ORIGIN_UNDEFINED = new Set(['then', Symbol.toStringTag, Symbol.hasInstance, Symbol.isConcatSpreadable]);

function windowProxy(realm, bc) {
  if (!bc) return null;
  if (bc.realm === realm) return realm.global;
  let proxy = realm.proxies.get(bc);
  if (proxy) return proxy;
  const poster = function postMessage(message, targetOrigin, transfer) {
    windowPost(realm, bc, arguments.length, message, targetOrigin, transfer);
  };
  const noop = () => {};
  const security = (prop) => new realm.api.DOMException(
    `Blocked a frame with origin "${realm.bc.origin}" from accessing a cross-origin frame (property '${String(prop)}').`, 'SecurityError');
  const local = (prop) => {
    // Properties a WindowProxy answers itself: the same for every origin.
    switch (prop) {
      case 'postMessage': return { v: poster };
      case 'window': case 'self': case 'frames': return { v: proxy };
      case 'parent': return { v: windowProxy(realm, bc.parent || bc) };
      case 'top': return { v: windowProxy(realm, bc.top) };
      case 'closed': return { v: bc.closed };
      case 'length': return { v: bc.closed ? 0 : bc.children.length };
      default: break;
    }
    if (typeof prop === 'string' && /^(0|[1-9][0-9]*)$/.test(prop)) {
      const child = bc.closed ? undefined : bc.children[Number(prop)];
      return { v: child ? windowProxy(realm, child) : undefined };
    }
    return null;
  };
  const crossOrigin = () => bc.closed || !bc.realm || !sameOrigin(realm.bc, bc);
  proxy = new Proxy(Object.create(null), {
    get(_t, prop) {
      if (prop === 'postMessage') return poster; // the one every message reads: no detour
      const l = local(prop);
      if (l) return l.v;
      if (!crossOrigin()) return Reflect.get(bc.realm.global, prop);
      if (prop === 'close' || prop === 'focus' || prop === 'blur') return noop;
      if (CROSS_ORIGIN_UNDEFINED.has(prop)) return undefined;
      throw security(prop);
    },
    set(_t, prop, value) {
      if (!crossOrigin()) return Reflect.set(bc.realm.global, prop, value);
      throw security(prop);
    },
    has(_t, prop) {
      if (local(prop)) return true;
      if (!crossOrigin()) return Reflect.has(bc.realm.global, prop);
      return CROSS_ORIGIN.has(prop);
    },
    ownKeys() {
      if (!crossOrigin()) return Reflect.ownKeys(bc.realm.global);
      return [...bc.children.keys()].map(String).concat([...CROSS_ORIGIN], ['then', Symbol.toStringTag, Symbol.hasInstance, Symbol.isConcatSpreadable]);
    },
    getOwnPropertyDescriptor(_t, prop) {
      if (!crossOrigin()) {
        const d = Reflect.getOwnPropertyDescriptor(bc.realm.global, prop);
        if (d) d.configurable = true;
        return d;
      }
      if (CROSS_ORIGIN_UNDEFINED.has(prop)) return { value: undefined, writable: false, enumerable: false, configurable: true };
      const l = local(prop);
      if (l) return { value: l.v, writable: false, enumerable: false, configurable: true };
      if (CROSS_ORIGIN.has(prop)) return { value: this.get(_t, prop), writable: false, enumerable: false, configurable: true };
      throw security(prop);
    },
    defineProperty(_t, prop, desc) {
      if (!crossOrigin()) return Reflect.defineProperty(bc.realm.global, prop, desc);
      throw security(prop);
    },
    deleteProperty(_t, prop) {
      if (!crossOrigin()) return Reflect.deleteProperty(bc.realm.global, prop);
      throw security(prop);
    },
    getPrototypeOf() {
      if (!crossOrigin()) return Reflect.getPrototypeOf(bc.realm.global);
      return null;
    },
    setPrototypeOf(_t, proto) {
      if (!crossOrigin()) return Reflect.setPrototypeOf(bc.realm.global, proto);
      throw security('__proto__');
    },
    preventExtensions() { return false; },
  });
  proxyInfo.set(proxy, { realm, bc });
  realm.proxies.set(bc, proxy);
  return proxy;
}

// window.postMessage(message, targetOrigin[, transfer]) and (message, options), HTML's "window
// post message steps": targetOrigin "/" means the incumbent's origin; a bad targetOrigin is a
// SyntaxError before anything is serialized; a DataCloneError sends nothing.
function windowPost(fromRealm, targetBC, argc, message, targetOrigin, transfer) {
  if (argc === 0) throw new fromRealm.TypeError("Failed to execute 'postMessage' on 'Window': 1 argument required, but only 0 present.");
  let origin = '/';
  let list = transfer;
  if (targetOrigin !== undefined && targetOrigin !== null && typeof targetOrigin === 'object') {
    origin = targetOrigin.targetOrigin === undefined ? '/' : String(targetOrigin.targetOrigin);
    list = targetOrigin.transfer;
  } else if (targetOrigin !== undefined) {
    origin = typeof targetOrigin === 'string' ? targetOrigin : String(targetOrigin);
  }
  if (!fromRealm.alive) return; // script of a document that is gone: nothing to send from
  const { ports, buffers } = checkTransfer(fromRealm, list, null);
  let buf;
  try {
    buf = serialize(fromRealm, message, ports);
  } catch (e) {
    if (!validTargetOrigin(origin)) throwForResult(fromRealm, R.SYNTAX, 'postMessage');
    throw e;
  }
  if (targetBC.closed) {
    if (!validTargetOrigin(origin)) throwForResult(fromRealm, R.SYNTAX, 'postMessage');
    return;
  }
  const o = originArg(origin);
  const r = ports.length ? native.post(fromRealm.bc.h, targetBC.h, buf, o, ports.map((p) => portInfo.get(p).h))
    : native.post(fromRealm.bc.h, targetBC.h, buf, o);
  if (r === R.OK || r === R.DROPPED) {
    if (ports.length || buffers.length) commitTransfer(ports, buffers);
  }
  else if (r !== R.INVALID_HANDLE) throwForResult(fromRealm, r, 'postMessage');
}

// targetOrigin as post() takes it: the addon's index for a string it has interned (saving the
// string's conversion on every post; most traffic repeats a few targetOrigins), else the string.
const originIds = new Map(); // string -> index, or the string itself once the addon's table is full
let lastOriginArg = null;
let lastOriginId = null;
function originArg(o) {
  if (o === lastOriginArg) return lastOriginId;
  let id = originIds.get(o);
  if (id === undefined) {
    if (originIds.size >= 256) return o;
    id = native.internOrigin(o);
    if (id < 0) id = o;
    originIds.set(o, id);
  }
  lastOriginArg = o;
  lastOriginId = id;
  return id;
}

function validTargetOrigin(o) {
  if (o === '*' || o === '/') return true;
  try { new URL(o); return true; } catch (_) { return false; } // eslint-disable-line no-new
}

// The host object a realm's prelude talks to. Bound to one realm; never exposed to scripts.
function makeHost(realm) {
  const bc = realm.bc;
  const cons = bc.options.console || console;
  const timerGlobals = {
    setTimeout: function setTimeout(fn, ms, ...args) {
      if (!realm.alive) return 0;
      const t = globalThis.setTimeout(() => { realm.timers.delete(t); if (realm.alive) fn(...args); }, ms);
      realm.timers.add(t);
      return t[Symbol.toPrimitive]();
    },
    setInterval: function setInterval(fn, ms, ...args) {
      if (!realm.alive) return 0;
      const t = globalThis.setInterval(() => { if (realm.alive) fn(...args); }, ms);
      realm.timers.add(t);
      return t[Symbol.toPrimitive]();
    },
    clearTimeout: function clearTimeout(id) { clearTimer(realm, id); },
    clearInterval: function clearInterval(id) { clearTimer(realm, id); },
    queueMicrotask: function queueMicrotask(fn) {
      globalThis.queueMicrotask(() => { if (realm.alive) fn(); });
    },
  };
  return {
    timeOrigin: Math.round(performance.timeOrigin + performance.now()),
    globals: { console: cons, ...timerGlobals },
    consoleError: (err) => cons.error('Uncaught', err),
    isPort: (p) => portInfo.has(p),
    isMessageEventSource: (s) => portInfo.has(s) || proxyInfo.has(s) || [...windows.values()].some((b) => b.realm && b.realm.global === s),
    parent: () => windowProxy(realm, bc.parent || bc),
    top: () => windowProxy(realm, bc.top),
    length: () => bc.children.length,
    closed: () => bc.closed,
    origin: () => (realm.alive ? bc.origin : 'null'),
    location: () => realm.location || (realm.location = makeLocation(realm)),
    document: () => realm.document || (realm.document = makeDocument(realm)),
    windowPost: (_unused, argc, message, targetOrigin, transfer) => windowPost(realm, bc, argc, message, targetOrigin, transfer),
    structuredClone: (value, options) => {
      let out;
      try {
        out = structuredClone(value, options);
      } catch (e) {
        throw cloneError(realm, e && e.message ? e.message : String(e));
      }
      return out !== null && typeof out === 'object' ? realm.api.adopt(out) : out;
    },
    channelNew: (newPort) => {
      const hs = realm.alive ? native.channelNew(bc.h) : R.INVALID_HANDLE;
      const a = newPort();
      const b = newPort();
      if (typeof hs === 'number') {
        // A channel from a document that is gone: two closed ports (posting to them does nothing).
        portInfo.set(a, { h: null, id: 0, realm, started: false, closed: true });
        portInfo.set(b, { h: null, id: 0, realm, started: false, closed: true });
      } else {
        adoptPort(realm, a, hs[0]);
        adoptPort(realm, b, hs[1]);
      }
      return [a, b];
    },
    portPost: (port, message, transfer, argc) => {
      const info = portInfo.get(port);
      if (!info) throw new realm.TypeError('Illegal invocation');
      if (argc === 0) throw new realm.TypeError("Failed to execute 'postMessage' on 'MessagePort': 1 argument required, but only 0 present.");
      const list = transfer !== null && typeof transfer === 'object' && !(Symbol.iterator in transfer) ? transfer.transfer : transfer;
      const { ports, buffers } = checkTransfer(realm, list, port);
      const buf = serialize(realm, message, ports);
      if (info.h === null) return; // closed or detached: the message goes nowhere
      const r = native.portPost(info.h, buf, ports.length ? ports.map((p) => portInfo.get(p).h) : undefined);
      if (r === R.OK || r === R.DROPPED) commitTransfer(ports, buffers);
      else if (r !== R.INVALID_HANDLE) throwForResult(realm, r, 'postMessage');
    },
    portStart: (port) => {
      const info = portInfo.get(port);
      if (!info) throw new realm.TypeError('Illegal invocation');
      if (info.started || info.h === null) return;
      info.started = true;
      portsById.set(info.id, port);
      native.portListen(info.h, info.id);
    },
    portClose: (port) => {
      const info = portInfo.get(port);
      if (!info) throw new realm.TypeError('Illegal invocation');
      if (info.h === null) return;
      native.portClose(info.h);
      portsByHandle.delete(info.h);
      portsById.delete(info.id);
      info.realm.ports.delete(port);
      info.h = null;
      info.closed = true;
    },
    broadcastNew: (channel, name) => {
      const id = nextId++;
      const h = realm.alive ? native.broadcastNew(bc.h, name, id) : 0n;
      channelInfo.set(channel, { h: h === 0n ? null : h, id, name, realm });
      if (h !== 0n) {
        channelsByHandle.set(h, channel);
        channelsById.set(id, channel);
        realm.channels.add(channel);
      }
    },
    broadcastName: (channel) => {
      const info = channelInfo.get(channel);
      if (!info) throw new realm.TypeError('Illegal invocation');
      return info.name;
    },
    broadcastPost: (channel, message) => {
      const info = channelInfo.get(channel);
      if (!info) throw new realm.TypeError('Illegal invocation');
      if (info.h === null) throw new realm.api.DOMException("Failed to execute 'postMessage' on 'BroadcastChannel': Channel is closed", 'InvalidStateError');
      const buf = serialize(realm, message, NO_PORTS);
      const r = native.broadcastPost(info.h, buf);
      if (r !== R.OK && r !== R.DROPPED && r !== R.INVALID_HANDLE) throwForResult(realm, r, 'postMessage');
    },
    broadcastClose: (channel) => {
      const info = channelInfo.get(channel);
      if (!info) throw new realm.TypeError('Illegal invocation');
      if (info.h === null) return;
      native.broadcastClose(info.h);
      channelsByHandle.delete(info.h);
      channelsById.delete(info.id);
      realm.channels.delete(channel);
      info.h = null;
    },
  };
}

function clearTimer(realm, id) {
  for (const t of realm.timers) {
    if (t[Symbol.toPrimitive]() === id) {
      clearTimeout(t);
      realm.timers.delete(t);
      return;
    }
  }
}

function adoptPort(realm, port, h) {
  portInfo.set(port, { h, id: nextId++, realm, started: false, closed: false });
  portsByHandle.set(h, port);
  realm.ports.add(port);
}

function makeLocation(realm) {
  const bc = realm.bc;
  const url = bc.url;
  const parsed = (() => { try { return new URL(url); } catch (_) { return null; } })();
  const fields = {
    href: parsed ? parsed.href : url,
    origin: bc.origin,
    protocol: parsed ? parsed.protocol : '',
    host: parsed ? parsed.host : '',
    hostname: parsed ? parsed.hostname : '',
    port: parsed ? parsed.port : '',
    pathname: parsed ? parsed.pathname : '',
    search: parsed ? parsed.search : '',
    hash: parsed ? parsed.hash : '',
  };
  return vm.runInContext('(o) => Object.freeze(Object.assign(Object.create(Object.prototype), o, { toString() { return this.href; } }))', realm.ctx)(fields);
}

function makeDocument(realm) {
  const bc = realm.bc;
  const iframe = (child) => {
    let el = realm.iframes.get(child);
    if (!el) {
      el = vm.runInContext('(get, src) => Object.freeze({ tagName: "IFRAME", get src() { return src; }, get contentWindow() { return get(); } })', realm.ctx)(
        () => (child.closed || child.parent !== bc ? null : windowProxy(realm, child)), child.url);
      realm.iframes.set(child, el);
    }
    return el;
  };
  const make = vm.runInContext(`(tags, url) => Object.freeze({
    get URL() { return url; },
    get defaultView() { return globalThis; },
    getElementsByTagName(name) { return tags(String(name)); },
  })`, realm.ctx);
  const toArray = vm.runInContext('(xs) => Array.from(xs)', realm.ctx);
  return make((name) => toArray(name.toLowerCase() === 'iframe' && realm.alive ? bc.children.map(iframe) : []), bc.url);
}

// ---- library callbacks -----------------------------------------------------------------------

function receivePorts(realm, handles) {
  if (!handles) return NO_PORTS;
  return handles.map((h) => {
    const p = realm.api.newPort();
    adoptPort(realm, p, h);
    return p;
  });
}

// origin and source are undefined when they are the same as in the previous call (the addon
// saves making them again for every message of a stream).
let lastOrigin = '';
let lastSource = 0n;
let lastSourceBC = null; // windows.get(lastSource), while that context is open
function onWindowMessage(id, data, origin, source, portHandles) {
  if (origin === undefined) origin = lastOrigin; else lastOrigin = origin;
  if (source !== undefined) {
    lastSource = source;
    lastSourceBC = source === 0n ? null : windows.get(source) || null;
  } else if (lastSourceBC !== null && lastSourceBC.closed) {
    lastSourceBC = windows.get(lastSource) || null;
  }
  deliverWindow(windowsById.get(id), data, origin, lastSourceBC, portHandles);
}

function deliverWindow(bc, data, origin, sourceBC, portHandles) {
  if (!bc || !bc.realm) {
    if (portHandles) for (const h of portHandles) native.portClose(h);
    return;
  }
  const realm = bc.realm;
  const ports = portHandles === undefined ? NO_PORTS : receivePorts(realm, portHandles);
  const src = sourceBC === null ? null : windowProxy(realm, sourceBC);
  let value;
  try {
    value = deserialize(realm, data, ports);
  } catch (_) {
    realm.api.fireMessage(realm.global, 'messageerror', null, origin, src, ports);
    return;
  }
  realm.api.fireMessage(realm.global, 'message', value, origin, src, ports);
}

// Queued delivery in batches (src/addon.c, "batched queued delivery"): the records of one
// drain chunk, taken off the library's queues before any of them runs. Each is its own task:
// Node's microtask checkpoint and nextTicks run between them (process._tickCallback is what
// Node itself runs between two immediates). A window that navigated after its records were
// taken gets none of them (HTML discards the tasks of a document that is no longer active),
// as the library does for those still queued; closed windows, ports and channels are looked up
// by id and are gone. Without process._tickCallback (not a documented API), or with
// PM_NODE_UNBATCHED set, init gets no onBatch and every delivery is its own native callback.
const runTicks = typeof process._tickCallback === 'function' && !process.env.PM_NODE_UNBATCHED ? process._tickCallback : null;
let navCount = 0; // navigations so far (BrowsingContext.navigatedAt)
const RECORD = [6, 4, 4, 7]; // record lengths by tag

function onBatch() {
  const n = arguments.length;
  const taken = navCount;
  let origin = '';
  let source = 0n;
  let sourceBC = null;
  let error = null;
  for (let i = 0; i < n;) {
    const tag = arguments[i];
    const len = RECORD[tag] || n;
    try {
      if (i !== 0) runTicks(); // the checkpoint after the previous task
      switch (tag) {
        case 0: {
          const o = arguments[i + 3];
          const s = arguments[i + 4];
          if (o !== undefined) origin = o;
          if (s !== undefined) {
            source = s;
            sourceBC = s === 0n ? null : windows.get(s) || null;
          } else if (sourceBC !== null && sourceBC.closed) {
            sourceBC = windows.get(source) || null;
          }
          const bc = windowsById.get(arguments[i + 1]);
          const ports = arguments[i + 5];
          if (bc !== undefined && bc.navigatedAt > taken) { // taken for the document it replaced
            if (ports) for (const h of ports) native.portClose(h);
          } else {
            deliverWindow(bc, arguments[i + 2], origin, sourceBC, ports);
          }
          break;
        }
        case 1: onPortMessage(arguments[i + 1], arguments[i + 2], arguments[i + 3]); break;
        case 2: onBroadcastMessage(arguments[i + 1], arguments[i + 2], arguments[i + 3]); break;
        case 3: onDrop(arguments[i + 1], arguments[i + 2], arguments[i + 3], arguments[i + 4], arguments[i + 5], arguments[i + 6]); break;
        default: break;
      }
    } catch (e) {
      if (error === null) error = e; // deliver the rest, then report it (the addon's backstop)
    }
    i += len;
  }
  if (error !== null) throw error;
}

function onPortMessage(id, data, portHandles) {
  const port = portsById.get(id);
  if (!port) {
    if (portHandles) for (const p of portHandles) native.portClose(p);
    return;
  }
  const { realm } = portInfo.get(port);
  const ports = receivePorts(realm, portHandles);
  let value;
  try {
    value = deserialize(realm, data, ports);
  } catch (_) {
    realm.api.fireMessage(port, 'messageerror', null, '', null, ports);
    return;
  }
  realm.api.fireMessage(port, 'message', value, '', null, ports);
}

function onBroadcastMessage(id, data, origin) {
  const channel = channelsById.get(id);
  if (!channel) return;
  const { realm } = channelInfo.get(channel);
  let value;
  try {
    value = deserialize(realm, data, NO_PORTS);
  } catch (_) {
    realm.api.fireMessage(channel, 'messageerror', null, origin, null, NO_PORTS);
    return;
  }
  realm.api.fireMessage(channel, 'message', value, origin, null, NO_PORTS);
}

// A drop the library decided. Chromium tells the sender's console about a targetOrigin
// mismatch; so do we (per document: the `warnOnDrop` option, default true).
function onDrop(reason, sourceOrigin, targetOrigin, requested, source, target) {
  if (reason !== DROP_ORIGIN_MISMATCH) return;
  const bc = windows.get(source) || windows.get(target);
  if (!bc || bc.options.warnOnDrop === false) return;
  const shown = requested === '/' ? sourceOrigin : requested;
  (bc.options.console || console).warn(
    `Failed to execute 'postMessage' on 'DOMWindow': The target origin provided ('${shown}') does not match the recipient window's origin ('${targetOrigin}').`);
}

// Queued delivery is driven by src/addon.c: the library's waker signals a libuv async handle,
// whose callback runs each woken window's queue, calling onWindowMessage (and the port and
// broadcast callbacks) once per message as its own task: Node's microtask checkpoint runs after
// each, as between HTML tasks. Messages queued meanwhile wait for the next turn of the loop.

native.init(onWindowMessage, onPortMessage, onBroadcastMessage, onDrop, runTicks ? onBatch : undefined);
native.setDropReports(true);

// ---- the public API --------------------------------------------------------------------------

const kBC = Symbol('browsingContext');

function normalizeOptions(options, inherited) {
  const o = { delivery: 'queued', warnOnDrop: true, console: undefined, queueLimit: undefined, ...inherited, ...(options || {}) };
  if (o.delivery !== 'queued' && o.delivery !== 'sync') throw new TypeError(`delivery must be 'queued' or 'sync', not ${String(o.delivery)}`);
  return o;
}

function openWindow(url, parent, options) {
  if (typeof url !== 'string') throw new TypeError('url must be a string');
  const h = native.windowNew(url, parent ? parent.h : undefined);
  if (h === 0n) throw new TypeError(`postmessage: cannot open ${JSON.stringify(url)}: ${native.lastError()}`);
  const bc = new BrowsingContext(h, url, parent, options);
  if (options.delivery === 'queued') {
    const r = native.windowSetQueued(h, true);
    if (r !== R.OK) { native.windowFree(h); throw new Error(`postmessage: ${native.lastError()}`); }
  }
  if (options.queueLimit) {
    const { messages = 10000, bytes = 64 * 1024 * 1024 } = options.queueLimit;
    const r = native.setQueueLimit(h, messages, bytes);
    if (r !== R.OK) { native.windowFree(h); throw new RangeError(`postmessage: bad queueLimit: ${native.lastError()}`); }
  }
  windows.set(h, bc);
  windowsById.set(bc.id, bc);
  try {
    createRealm(bc);
  } catch (e) {
    windows.delete(h);
    windowsById.delete(bc.id);
    native.windowFree(h);
    throw e;
  }
  if (parent) {
    parent.children.push(bc);
    syncFrameIndexes(parent);
  }
  return bc;
}

function wrap(bc) {
  const d = Object.create(Document.prototype);
  d[kBC] = bc;
  return d;
}

function live(doc) {
  const bc = doc && doc[kBC];
  if (!bc) throw new TypeError('not a postmessage Document');
  if (bc.closed) throw new Error('postmessage: this document is closed');
  return bc;
}

/** A document in its own realm: a top-level window, or an iframe made by createIframe. */
class Document {
  /**
   * @param {string} url  absolute URL of the document (its origin is what postMessage checks)
   * @param {{delivery?: 'queued'|'sync', warnOnDrop?: boolean, console?: object,
   *          queueLimit?: {messages?: number, bytes?: number}}} [options]
   *   delivery: 'queued' (HTML's tasks, default) or 'sync' (listeners run inside postMessage);
   *   warnOnDrop: console.warn a message this document sent that was dropped (default true);
   *   console: the realm's console (default: Node's); queueLimit: this window's queue limits
   *   (0 = none; defaults 10,000 messages, 64 MiB); iframes inherit all but queueLimit.
   */
  constructor(url, options) {
    this[kBC] = openWindow(url, null, normalizeOptions(options));
  }


  /** A child document (an iframe of this one) at `url`; options default to this document's. */
  createIframe(url, options) {
    const bc = live(this);
    const { delivery, warnOnDrop, console: c } = bc.options;
    return wrap(openWindow(url, bc, normalizeOptions(options, { delivery, warnOnDrop, console: c })));
  }

  /** Runs a classic script in this document's realm; returns its completion value. */
  evaluate(source, filename = 'evaluate.js') {
    const bc = live(this);
    return vm.runInContext(String(source), bc.realm.ctx, { filename: String(filename) });
  }

  /** The document's global object (window === self === globalThis inside). */
  get window() { return this[kBC].realm.global; }

  get url() { return this[kBC].url; }

  get origin() { return this[kBC].closed ? 'null' : this[kBC].origin; }

  get closed() { return this[kBC].closed; }

  /** Messages waiting in this document's queue (queued delivery). */
  get pending() { return this[kBC].closed ? 0 : native.windowPending(this[kBC].h); }

  /** Loads a new document here: new realm, new origin; the old one's messages never arrive. */
  navigate(url) {
    const bc = live(this);
    if (typeof url !== 'string') throw new TypeError('url must be a string');
    const r = native.windowNavigate(bc.h, url);
    if (r !== R.OK) throw new TypeError(`postmessage: cannot navigate to ${JSON.stringify(url)}: ${native.lastError()}`);
    for (const c of bc.children) retireContext(c);
    bc.children = [];
    retireRealm(bc.realm);
    bc.navigatedAt = ++navCount;
    bc.url = url;
    createRealm(bc);
  }

  /** Frees this document and its iframes (their messages, ports and channels go with them). */
  close() {
    const bc = this[kBC];
    if (bc.closed) return;
    native.windowFree(bc.h);
    retireContext(bc);
    if (bc.parent) {
      bc.parent.children = bc.parent.children.filter((c) => c !== bc);
      syncFrameIndexes(bc.parent);
    }
  }
}

module.exports = {
  Document,
  /** The document's pm_window handle (a BigInt), for embedders that also use the C API. */
  handleOf: (doc) => live(doc).h,
  version: native.version(),
  /** Counters for tests and diagnostics. */
  stats: () => ({ windows: windows.size, ports: portsByHandle.size, channels: channelsByHandle.size, foreignCalls: native.foreignCalls(), batched: runTicks !== null }),
};
