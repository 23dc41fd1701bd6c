// The realm prelude: installs the web's messaging globals into one node:vm context.
//
// `install` is never called in the main realm: index.js evaluates its source inside each
// document's context, so every realm gets its own Event, MessageEvent, DOMException... built
// from that realm's own intrinsics (Error, Array, Object), as a browser's realms have them.
// Everything that touches the library goes through `host` (index.js), which is never
// reachable from the realm's global. What it returns (`api`) lets the host create events,
// ports and exceptions of this realm.
'use strict';

/* eslint-disable no-restricted-globals */
function install(global, host) {
  'use strict';
  const { defineProperty, freeze } = Object;
  // Event.timeStamp: milliseconds since the realm's time origin, at millisecond resolution
  // (performance.now() would cost a third of a message delivery). Reading the clock costs as
  // much as the rest of an event's creation on some machines (150-200 ns under some
  // hypervisors), so a realm reads it for each new event only once its script has read some
  // event's timeStamp; until then events are made without it, and such an event's timeStamp,
  // if read later, is the time of that first read.
  const timeOrigin = host.timeOrigin;
  let stampEvents = false;

  // ---- DOMException (WebIDL) -------------------------------------------------------------
  const legacyCodes = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
    NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
    SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20,
    URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24,
    DataCloneError: 25,
  };
  class DOMException extends Error {
    constructor(message = '', name = 'Error') {
      super(String(message));
      defineProperty(this, 'name', { value: String(name), configurable: true, writable: true });
    }
    get code() { return legacyCodes[this.name] || 0; }
  }
  const constNames = {
    INDEX_SIZE_ERR: 1, HIERARCHY_REQUEST_ERR: 3, WRONG_DOCUMENT_ERR: 4, INVALID_CHARACTER_ERR: 5,
    NO_MODIFICATION_ALLOWED_ERR: 7, NOT_FOUND_ERR: 8, NOT_SUPPORTED_ERR: 9, INVALID_STATE_ERR: 11,
    SYNTAX_ERR: 12, INVALID_MODIFICATION_ERR: 13, NAMESPACE_ERR: 14, INVALID_ACCESS_ERR: 15,
    TYPE_MISMATCH_ERR: 17, SECURITY_ERR: 18, NETWORK_ERR: 19, ABORT_ERR: 20, URL_MISMATCH_ERR: 21,
    QUOTA_EXCEEDED_ERR: 22, TIMEOUT_ERR: 23, INVALID_NODE_TYPE_ERR: 24, DATA_CLONE_ERR: 25,
  };
  for (const [k, v] of Object.entries(constNames)) {
    defineProperty(DOMException, k, { value: v, enumerable: true });
    defineProperty(DOMException.prototype, k, { value: v, enumerable: true });
  }
  defineProperty(DOMException.prototype, Symbol.toStringTag, { value: 'DOMException', configurable: true });

  // ---- Event (DOM) -----------------------------------------------------------------------
  // Passed as `init` by the host's own event constructions: skips the WebIDL argument steps.
  // Never reachable from script (a closure value of this prelude).
  const INTERNAL = freeze({});
  // An event's state lives in its own private fields (no second object per event: at message
  // rates allocation is most of an event's cost). Dispatch is defined inside the class, where
  // those fields are in reach; the rest of the prelude uses the functions below.
  let isEvent; // (value) -> whether it is an Event of this realm
  let dispatch; // (target, event) -> !canceled: DOM "dispatch" at a single target
  let setTrusted; // (event, isTrusted)
  let isDispatching; // (event) -> its dispatch flag
  class Event {
    #type;
    #bubbles = false;
    #cancelable = false;
    #composed = false;
    #target = null;
    #currentTarget = null;
    #phase = 0;
    #canceled = false;
    #stop = false;
    #stopNow = false;
    #dispatching = false;
    #trusted = false;
    #passive = false;
    #timeStamp = stampEvents ? Date.now() - timeOrigin : null;
    static {
      isEvent = (e) => e !== null && typeof e === 'object' && #type in e;
      setTrusted = (e, v) => { e.#trusted = v; };
      isDispatching = (e) => e.#dispatching;
      // Dispatch at a single target (no tree here): AT_TARGET, capture listeners first.
      dispatch = (target, event) => {
        event.#dispatching = true;
        event.#target = target;
        event.#currentTarget = target;
        event.#phase = 2;
        const list = targets.get(target); // never changed in place: this is the dispatch's snapshot
        if (list !== undefined) {
          const n = list.length;
          for (let pass = 0; pass < 2; pass++) { // capture listeners first, then the others
            const capture = pass === 0;
            for (let i = 0; i < n && !event.#stopNow; i++) {
              const entry = list[i];
              if (entry.removed || entry.capture !== capture || entry.type !== event.#type) continue;
              if (entry.once) removeEventListener.call(target, entry.type, entry.callback, { capture: entry.capture });
              event.#passive = entry.passive;
              invoke(target, entry, event);
              event.#passive = false;
            }
          }
        }
        event.#dispatching = false;
        event.#phase = 0;
        event.#currentTarget = null;
        event.#stop = false;
        event.#stopNow = false;
        return !event.#canceled;
      };
    }
    constructor(type, init) {
      if (init === INTERNAL) { // the host's events: type is a string, no init dictionary
        this.#type = type;
        this.#trusted = true;
        return;
      }
      if (arguments.length === 0) throw new TypeError("Failed to construct 'Event': 1 argument required, but only 0 present.");
      this.#type = String(type);
      if (init != null) {
        this.#bubbles = !!init.bubbles;
        this.#cancelable = !!init.cancelable;
        this.#composed = !!init.composed;
      }
    }
    get type() { return this.#type; }
    get target() { return this.#target; }
    get srcElement() { return this.#target; }
    get currentTarget() { return this.#currentTarget; }
    get eventPhase() { return this.#phase; }
    get bubbles() { return this.#bubbles; }
    get cancelable() { return this.#cancelable; }
    get composed() { return this.#composed; }
    get defaultPrevented() { return this.#canceled; }
    get returnValue() { return !this.#canceled; }
    set returnValue(v) { if (!v) this.preventDefault(); }
    get isTrusted() { return this.#trusted; }
    get timeStamp() {
      if (this.#timeStamp === null) {
        stampEvents = true;
        this.#timeStamp = Date.now() - timeOrigin;
      }
      return this.#timeStamp;
    }
    get cancelBubble() { return this.#stop; }
    set cancelBubble(v) { if (v) this.#stop = true; }
    preventDefault() { if (this.#cancelable && !this.#passive) this.#canceled = true; }
    stopPropagation() { this.#stop = true; }
    stopImmediatePropagation() { this.#stop = true; this.#stopNow = true; }
    composedPath() { return this.#dispatching && this.#target ? [this.#target] : []; }
  }
  for (const [k, v] of [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]]) {
    defineProperty(Event, k, { value: v, enumerable: true });
    defineProperty(Event.prototype, k, { value: v, enumerable: true });
  }
  defineProperty(Event.prototype, Symbol.toStringTag, { value: 'Event', configurable: true });

  // ---- MessageEvent (HTML) ----------------------------------------------------------------
  const EMPTY_PORTS = freeze([]);
  let trustedMessage; // the host's way to make a trusted event without re-checking its init
  class MessageEvent extends Event {
    #data = null;
    #origin = '';
    #lastEventId = '';
    #source = null;
    #ports = EMPTY_PORTS;
    static {
      trustedMessage = (type, data, origin, source, ports) => {
        const e = new MessageEvent(type, INTERNAL);
        e.#data = data;
        e.#origin = origin;
        e.#source = source;
        if (ports.length) e.#ports = freeze(ports);
        return e;
      };
    }
    constructor(type, init) {
      if (init === INTERNAL) {
        super(type, INTERNAL);
        return;
      }
      if (arguments.length === 0) throw new TypeError("Failed to construct 'MessageEvent': 1 argument required, but only 0 present.");
      super(type, init);
      if (init == null) return;
      const source = init.source === undefined ? null : init.source;
      if (source !== null && !host.isMessageEventSource(source)) {
        throw new TypeError("Failed to construct 'MessageEvent': The provided value is not of type '(MessagePort or ServiceWorker or WindowProxy)'.");
      }
      const ports = init.ports === undefined ? [] : Array.from(init.ports);
      for (const p of ports) {
        if (!host.isPort(p)) throw new TypeError("Failed to construct 'MessageEvent': Failed to read the 'ports' property: Failed to convert value to 'MessagePort'.");
      }
      this.#data = init.data === undefined ? null : init.data;
      this.#origin = init.origin === undefined ? '' : String(init.origin);
      this.#lastEventId = init.lastEventId === undefined ? '' : String(init.lastEventId);
      this.#source = source;
      this.#ports = freeze(ports);
    }
    get data() { return this.#data; }
    get origin() { return this.#origin; }
    get lastEventId() { return this.#lastEventId; }
    get source() { return this.#source; }
    get ports() { return this.#ports; }
  }
  defineProperty(MessageEvent.prototype, Symbol.toStringTag, { value: 'MessageEvent', configurable: true });

  // An ErrorEvent-like event for reporting exceptions from listeners (HTML "report an exception").
  class ErrorEvent extends Event {
    #i;
    constructor(type, init) {
      super(type, init);
      const i = init == null ? {} : init;
      this.#i = { message: String(i.message ?? ''), error: i.error, filename: String(i.filename ?? '') };
    }
    get message() { return this.#i.message; }
    get error() { return this.#i.error; }
    get filename() { return this.#i.filename; }
    get lineno() { return 0; }
    get colno() { return 0; }
  }
  defineProperty(ErrorEvent.prototype, Symbol.toStringTag, { value: 'ErrorEvent', configurable: true });

  // ---- EventTarget (DOM) ------------------------------------------------------------------
  // Listener lists live in a WeakMap keyed by the target, so the methods also work on the
  // realm's global (a vm context's global cannot get EventTarget.prototype in its chain).
  // A list is never changed in place: adding or removing a listener stores a new array, so a
  // dispatch walks the array it started with (DOM's clone of the listener list) without
  // copying it for every event.
  const targets = new WeakMap();
  const NO_LISTENERS = freeze([]);
  const listenersOf = (t) => targets.get(t) || NO_LISTENERS;
  const addEntry = (t, entry) => { targets.set(t, [...listenersOf(t), entry]); };
  const removeAt = (t, list, i) => {
    list[i].removed = true;
    targets.set(t, list.slice(0, i).concat(list.slice(i + 1)));
  };
  const flatten = (options) => (typeof options === 'boolean' ? { capture: options } : options == null ? {} : options);
  function addEventListener(type, callback, options) {
    if (callback == null) return;
    const o = flatten(options);
    const entry = {
      type: String(type), callback, capture: !!o.capture, once: !!o.once, passive: !!o.passive,
      removed: false, handler: false,
    };
    if (o.signal !== undefined && o.signal !== null) {
      if (o.signal.aborted) return;
      o.signal.addEventListener('abort', () => removeEventListener.call(this, type, callback, options));
    }
    if (listenersOf(this).some((e) => e.type === entry.type && e.callback === callback && e.capture === entry.capture)) return;
    addEntry(this, entry);
  }
  function removeEventListener(type, callback, options) {
    const o = flatten(options);
    const list = listenersOf(this);
    const i = list.findIndex((e) => !e.handler && e.type === String(type) && e.callback === callback && e.capture === !!o.capture);
    if (i >= 0) removeAt(this, list, i);
  }
  function dispatchEvent(event) {
    if (!isEvent(event)) throw new TypeError("Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'.");
    if (isDispatching(event)) throw new DOMException("Failed to execute 'dispatchEvent' on 'EventTarget': The event is already being dispatched.", 'InvalidStateError');
    setTrusted(event, false);
    return dispatch(this, event);
  }
  function invoke(target, entry, event) {
    try {
      const cb = entry.handler ? entry.callback.value : entry.callback;
      if (typeof cb === 'function') {
        const ret = cb.call(target, event);
        if (entry.handler && entry.type === 'error' && ret === true) event.preventDefault();
      } else if (cb && typeof cb.handleEvent === 'function') {
        cb.handleEvent(event);
      } else if (cb && !entry.handler) {
        throw new TypeError("The provided callback is not a function and has no 'handleEvent' method.");
      }
    } catch (err) {
      reportException(err);
    }
  }
  const addListener = addEventListener;
  const removeListener = removeEventListener;
  const dispatchOn = dispatchEvent;
  class EventTarget {
    constructor() { targets.set(this, NO_LISTENERS); }
  }
  for (const [name, fn] of [['addEventListener', addEventListener], ['removeEventListener', removeEventListener], ['dispatchEvent', dispatchEvent]]) {
    defineProperty(EventTarget.prototype, name, { value: fn, writable: true, configurable: true });
  }
  defineProperty(EventTarget.prototype, Symbol.toStringTag, { value: 'EventTarget', configurable: true });

  // Event handler IDL attributes (onmessage...): the first non-null value adds a listener at
  // that point of the list; later values replace the callback in place; null removes it.
  function defineHandler(obj, name, onSet, fixed) {
    const type = name.slice(2);
    const slots = new WeakMap();
    defineProperty(obj, name, {
      configurable: true,
      enumerable: true,
      get() {
        const t = fixed || this;
        const slot = slots.get(t);
        return slot ? slot.value : null;
      },
      set(v) {
        const t = fixed || this;
        const value = typeof v === 'function' || (v !== null && typeof v === 'object') ? v : null;
        let slot = slots.get(t);
        if (value === null) {
          if (slot) {
            const list = listenersOf(t);
            const i = list.indexOf(slot.entry);
            if (i >= 0) removeAt(t, list, i);
            slots.delete(t);
          }
          return;
        }
        if (!slot) {
          slot = { value, entry: null };
          slot.entry = { type, callback: slot, capture: false, once: false, passive: false, removed: false, handler: true };
          addEntry(t, slot.entry);
          slots.set(t, slot);
        } else {
          slot.value = value;
        }
        if (onSet) onSet(t);
      },
    });
  }

  // HTML "report an exception": an `error` event at the global; unless a listener cancels it,
  // the console shows it, and delivery of other listeners and messages goes on.
  let reporting = false;
  function reportException(err) {
    if (reporting) { host.consoleError(err); return; }
    reporting = true;
    try {
      const message = err && typeof err === 'object' && 'message' in err ? String(err.message) : String(err);
      const ev = new ErrorEvent('error', { cancelable: true, message: `Uncaught ${message}`, error: err });
      setTrusted(ev, true);
      if (dispatch(global, ev)) host.consoleError(err);
    } finally {
      reporting = false;
    }
  }

  // ---- MessagePort, MessageChannel, BroadcastChannel (HTML) --------------------------------
  let internal = false; // lets the host construct ports; `new MessagePort()` is illegal in script
  class MessagePort extends EventTarget {
    constructor() {
      if (!internal) throw new TypeError('Illegal constructor');
      super();
    }
    postMessage(message, transfer) { host.portPost(this, message, transfer, arguments.length); }
    start() { host.portStart(this); }
    close() { host.portClose(this); }
  }
  defineHandler(MessagePort.prototype, 'onmessage', (t) => host.portStart(t));
  defineHandler(MessagePort.prototype, 'onmessageerror');
  defineProperty(MessagePort.prototype, Symbol.toStringTag, { value: 'MessagePort', configurable: true });
  // Ports are Proxies of a MessagePort: V8's serializer refuses Proxies, so a port that is in a
  // message but not in its transfer list throws DataCloneError, as HTML requires, with no walk
  // over every message. (A port in the transfer list is swapped for a marker by the host.)
  function newPort() {
    internal = true;
    try {
      return new Proxy(new MessagePort(), {});
    } finally {
      internal = false;
    }
  }

  class MessageChannel {
    constructor() {
      const [a, b] = host.channelNew(newPort);
      defineProperty(this, '_p', { value: [a, b] });
    }
    get port1() { return this._p[0]; }
    get port2() { return this._p[1]; }
  }
  defineProperty(MessageChannel.prototype, Symbol.toStringTag, { value: 'MessageChannel', configurable: true });

  class BroadcastChannel extends EventTarget {
    constructor(name) {
      if (arguments.length === 0) throw new TypeError("Failed to construct 'BroadcastChannel': 1 argument required, but only 0 present.");
      super();
      host.broadcastNew(this, String(name));
    }
    get name() { return host.broadcastName(this); }
    postMessage(message) {
      if (arguments.length === 0) throw new TypeError("Failed to execute 'postMessage' on 'BroadcastChannel': 1 argument required, but only 0 present.");
      host.broadcastPost(this, message);
    }
    close() { host.broadcastClose(this); }
  }
  defineHandler(BroadcastChannel.prototype, 'onmessage');
  defineHandler(BroadcastChannel.prototype, 'onmessageerror');
  defineProperty(BroadcastChannel.prototype, Symbol.toStringTag, { value: 'BroadcastChannel', configurable: true });

  // ---- the global -------------------------------------------------------------------------
  const hidden = (name, value) => defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false });
  for (const [name, value] of Object.entries({
    DOMException, Event, MessageEvent, ErrorEvent, EventTarget, MessagePort, MessageChannel, BroadcastChannel,
  })) hidden(name, value);
  const getter = (name, get) => defineProperty(global, name, { get, configurable: true, enumerable: true });
  getter('window', () => global);
  getter('self', () => global);
  getter('frames', () => global);
  getter('parent', () => host.parent());
  getter('top', () => host.top());
  getter('length', () => host.length());
  getter('closed', () => host.closed());
  getter('origin', () => host.origin());
  getter('location', () => host.location());
  getter('document', () => host.document());
  // The global's own copies ignore `this`: node:vm may call accessors and methods of the
  // global with its backing object as the receiver, which is not the global scripts see.
  hidden('addEventListener', function addEventListener(type, callback, options) { return addListener.call(global, type, callback, options); });
  hidden('removeEventListener', function removeEventListener(type, callback, options) { return removeListener.call(global, type, callback, options); });
  hidden('dispatchEvent', function dispatchEvent(event) { return dispatchOn.call(global, event); });
  hidden('postMessage', function postMessage(message, targetOrigin, transfer) {
    host.windowPost(null, arguments.length, message, targetOrigin, transfer);
  });
  hidden('structuredClone', function structuredClone(value, options) {
    if (arguments.length === 0) throw new TypeError("Failed to execute 'structuredClone' on 'Window': 1 argument required, but only 0 present.");
    return host.structuredClone(value, options);
  });
  hidden('close', () => {});
  hidden('focus', () => {});
  hidden('blur', () => {});
  hidden('reportError', (e) => reportException(e));
  defineHandler(global, 'onmessage', null, global);
  defineHandler(global, 'onmessageerror', null, global);
  defineHandler(global, 'onerror', null, global);
  for (const [name, value] of Object.entries(host.globals)) hidden(name, value);

  // Received data is built by V8's deserializer in Node's main realm. adopt() rebuilds it from
  // this realm's intrinsics (same graph: cycles, shared buffers, sparse arrays), so that
  // `e.data instanceof Array` holds here and no prototype of the data leads to the main realm.
  const toTag = (v) => Object.prototype.toString.call(v).slice(8, -1);
  const TYPED = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
    'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'];
  function adopt(root) {
    const seen = new Map();
    const copyProps = (from, to) => {
      for (const k of Object.keys(from)) to[k] = walk(from[k]);
      return to;
    };
    function walk(v) {
      if (v === null || typeof v !== 'object') return v;
      const done = seen.get(v);
      if (done !== undefined) return done;
      if (host.isPort(v)) return v;
      let out;
      if (Array.isArray(v)) {
        out = new Array(v.length);
        seen.set(v, out);
        return copyProps(v, out);
      }
      const tag = toTag(v);
      switch (tag) {
        case 'Map':
          out = new Map();
          seen.set(v, out);
          for (const [k, x] of v) out.set(walk(k), walk(x));
          return out;
        case 'Set':
          out = new Set();
          seen.set(v, out);
          for (const x of v) out.add(walk(x));
          return out;
        case 'Date':
          out = new Date(Date.prototype.getTime.call(v));
          break;
        case 'RegExp':
          out = new RegExp(v.source, v.flags);
          break;
        case 'ArrayBuffer':
          out = new ArrayBuffer(v.byteLength);
          new Uint8Array(out).set(new Uint8Array(v));
          break;
        case 'DataView':
          out = new DataView(walk(v.buffer), v.byteOffset, v.byteLength);
          break;
        case 'Boolean':
          out = Object(Boolean.prototype.valueOf.call(v));
          break;
        case 'Number':
          out = Object(Number.prototype.valueOf.call(v));
          break;
        case 'String':
          out = Object(String.prototype.valueOf.call(v));
          break;
        case 'BigInt':
          out = Object(BigInt.prototype.valueOf.call(v));
          break;
        case 'Error': {
          const Ctor = { EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError }[v.name] || Error;
          out = new Ctor(v.message);
          if (typeof v.stack === 'string') defineProperty(out, 'stack', { value: v.stack, writable: true, configurable: true });
          break;
        }
        default:
          if (TYPED.includes(tag)) {
            out = new global[tag](walk(v.buffer), v.byteOffset, v.length);
            break;
          }
          out = {};
          seen.set(v, out);
          return copyProps(v, out);
      }
      seen.set(v, out);
      return out;
    }
    return walk(root);
  }

  return {
    DOMException,
    newPort,
    adopt,
    // Fires a trusted message event (or messageerror when data could not be deserialized).
    fireMessage(target, type, data, origin, source, ports) {
      dispatch(target, trustedMessage(type, data, origin, source, ports));
    },
    reportException,
  };
}

// A vm context's global answers lookups through Node's interceptors, which makes every bare
// `String`, `Date` or `undefined` in the prelude cost a slow property lookup. The wrapper binds
// the builtins the prelude uses as parameters, so they resolve as locals.
const BUILTINS = ['String', 'Date', 'Object', 'Array', 'Symbol', 'Error', 'TypeError', 'RangeError', 'Proxy', 'WeakMap', 'Reflect',
  'Map', 'Set', 'RegExp', 'ArrayBuffer', 'DataView', 'Uint8Array', 'Boolean', 'Number', 'BigInt', 'EvalError', 'ReferenceError',
  'SyntaxError', 'URIError'];
module.exports = {
  installSource: `(function (${BUILTINS.join(', ')}, undefined) { return (${install.toString()}); })(${BUILTINS.join(', ')})`,
};
