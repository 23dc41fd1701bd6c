/* postmessage Node-API addon: the thin native edge between JavaScript and libpostmessage.
 *
 * Everything here is plumbing: it turns JS numbers into handles, calls the public C API
 * (include/postmessage.h) and hands library callbacks (listeners, wakers, drops) to the JS
 * functions registered with init(). All policy (realms, events, structured clone, errors)
 * lives in the JavaScript under lib/.
 *
 * Handles travel to JS as BigInts holding the handle's 64-bit value (the library's handles are
 * tagged values, not plain addresses, so a double would not hold them). The library validates
 * every handle it is given (freed or forged ones are PM_ERR_INVALID_HANDLE, never UB), so a
 * value that JS code got wrong is just an error code, never a crash.
 *
 * Threads: listeners and drop reports run on the thread that posts or drains. In Node that is
 * the main JS thread (queued delivery is drained there, from the libuv async handle the waker
 * signals). A callback that arrives on any other thread cannot touch JS; it is counted and
 * ignored (see foreign_calls()).
 *
 * Queued delivery (see drain()): the waker records the window and signals one uv_async_t per
 * env; its callback, on the JS thread with no JavaScript on the stack, runs each woken window's
 * queue in one pm_window_run_pending call. Each message's listener call is a
 * napi_make_callback from there, so Node runs its microtask checkpoint (and nextTicks) after
 * every message, as HTML runs one between tasks, and as Node's own MessagePort does.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <postmessage.h>

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-environment state (Node-API instance data). */
typedef struct addon {
  napi_env env;
  pthread_t thread;              /* the JS thread of env */
  napi_ref on_window;            /* (target, data, origin, source, ports) */
  napi_ref on_port;              /* (port, data, ports) */
  napi_ref on_broadcast;         /* (channel, data, origin) */
  napi_ref on_drop;              /* (reason, sourceOrigin, targetOrigin, requested, source, target) */
  napi_ref on_batch;             /* (...records): queued deliveries of one drain chunk, or NULL */
  napi_async_context async_ctx;  /* for napi_make_callback from the drain */
  struct async_box *wake;        /* the uv_async_t the waker signals (NULL once closed) */
  napi_async_cleanup_hook_handle cleanup; /* closes it before the env's loop goes */
  int top_level;                 /* in drain(), no JS on the stack: listener calls are make_callbacks */
  int holding;                   /* the async handle is ref'd (messages wait) */
  /* Windows whose queue the waker reported non-empty, not yet drained (wake_lock). */
  pthread_mutex_t wake_lock;
  pm_window **woken;
  size_t nwoken, capwoken;
  int wake_closed;               /* the handle is closing: wakers must not touch it (wake_lock) */
  int drop_handler;              /* this env installed the process-wide drop handler */
  int thread_gone;               /* the env is being torn down: call no JS */
  /* Window messages mostly repeat one source and origin: onWindowMessage gets `undefined` for
   * "the same as the last one I was sent" (lib/ keeps the last values). sent_valid is cleared
   * whenever a call may not have reached lib/, so both sides always agree. */
  char *sent_origin;
  size_t sent_origin_cap;
  pm_window *sent_source;
  int sent_valid;
  /* While drain() runs: values of its outer handle scope, reused by every message. */
  int dv_valid;
  napi_value dv_undefined, dv_global, dv_fn[5], dv_tag[4];
  /* the last listener id's JS number, within one drain chunk */
  int dv_id_valid;
  double dv_id;
  napi_value dv_id_value;
  /* The records of the drain chunk being collected for onBatch (see batching()), and what the
   * last window record of this batch said its origin and source were. */
  napi_value *batch;
  size_t nbatch;
  char *b_origin;
  size_t b_origin_cap;
  int b_origin_valid;
  pm_window *b_source;
  int b_source_valid;
  /* targetOrigin strings lib/ interned (internOrigin): post() takes their index instead of the
   * string, saving its UTF-8 conversion on every post. Append-only, at most MAX_ORIGINS. */
  char *origins[256];
  size_t norigins;
  /* Top-level windows this env created and has not freed: freed with the env (a worker that
   * exits, the process ending), so no listener or waker outlives the env it would call. */
  pm_window **tops;
  size_t ntops, captops;
} addon;

static void track_top(addon *ad, pm_window *w) {
  if (ad->ntops == ad->captops) {
    size_t cap = ad->captops ? ad->captops * 2 : 16;
    pm_window **t = realloc(ad->tops, cap * sizeof *t);
    if (!t) return; /* not tracked: freed by the embedder or never */
    ad->tops = t;
    ad->captops = cap;
  }
  ad->tops[ad->ntops++] = w;
}

static void untrack_top(addon *ad, pm_window *w) {
  for (size_t i = 0; i < ad->ntops; i++) {
    if (ad->tops[i] == w) {
      ad->tops[i] = ad->tops[--ad->ntops];
      return;
    }
  }
}

static atomic_size_t g_foreign_calls; /* callbacks that arrived on a thread without JS */

/* A listener's context: the addon and the small integer id lib/ gave the window, port or
 * channel (a number is cheaper to pass and look up than the handle's BigInt). */
typedef struct listen_ctx {
  addon *ad;
  double id;
} listen_ctx;


#define CHECK(call)                                                                 \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      throw_last_napi(env, #call);                                                  \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)

static void throw_last_napi(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "postmessage addon: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown error");
  napi_throw_error(env, NULL, msg);
}

static addon *get_addon(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

static listen_ctx *new_ctx(napi_env env, napi_value id) {
  listen_ctx *ctx = malloc(sizeof *ctx);
  if (!ctx) return NULL;
  ctx->ad = get_addon(env);
  ctx->id = 0;
  napi_get_value_double(env, id, &ctx->id);
  return ctx;
}

static napi_value num(napi_env env, double v) {
  napi_value out = NULL;
  napi_create_double(env, v, &out);
  return out;
}

static napi_value handle_value(napi_env env, const void *p) {
  napi_value out = NULL;
  napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)p, &out);
  return out;
}

/* A handle BigInt from JS: anything else (a number, a negative or too large BigInt) becomes 0,
 * which the library rejects as PM_ERR_NULL_ARGUMENT. */
static uintptr_t handle_of(napi_env env, napi_value v) {
  uint64_t h = 0;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, v, &h, &lossless) != napi_ok || !lossless) return 0;
  return (uintptr_t)h;
}

/* handle_of, typed for the call it goes to (the library checks the handle's kind). */
static pm_window *window_of(napi_env env, napi_value v) { return (pm_window *)handle_of(env, v); }
static pm_port *port_of(napi_env env, napi_value v) { return (pm_port *)handle_of(env, v); }
static pm_broadcast *channel_of(napi_env env, napi_value v) { return (pm_broadcast *)handle_of(env, v); }

/* Throws a TypeError saying `msg`; returns NULL, what a function that threw gives back. */
static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* Arguments, padded with undefined. */
static int get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  return 1;
}

/* The first argument, for functions whose one argument is a handle: NULL if Node-API cannot
 * read it, which handle_of turns into 0 and the library rejects (PM_ERR_NULL_ARGUMENT). */
static napi_value first_arg(napi_env env, napi_callback_info info) {
  napi_value v = NULL;
  size_t argc = 1;
  if (napi_get_cb_info(env, info, &argc, &v, NULL, NULL) != napi_ok) return NULL;
  return v;
}

/* A JS string as a malloc'd NUL-terminated UTF-8 copy; NULL (with a TypeError thrown) otherwise.
 * JS strings are UTF-16; lone surrogates become U+FFFD, as a USVString conversion does. */
static char *string_of(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string");
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) { /* an embedded NUL would silently cut the string short in C */
    free(s);
    napi_throw_type_error(env, NULL, "string contains a NUL character");
    return NULL;
  }
  return s;
}

/* The bytes of a Buffer / Uint8Array / ArrayBuffer argument (borrowed for this call). */
static int bytes_of(napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  bool is = false;
  void *p = NULL;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type t;
    size_t n = 0, off = 0;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &t, &n, &p, &ab, &off) != napi_ok || t != napi_uint8_array) return 0;
    *data = p;
    *len = n;
    return 1;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    size_t n = 0;
    if (napi_get_arraybuffer_info(env, v, &p, &n) != napi_ok) return 0;
    *data = p;
    *len = n;
    return 1;
  }
  return 0;
}

/* The wire format of a message (lib/index.js writes the rest): byte 0 is a tag. Strings, the
 * common case, are encoded here without a JS allocation: TAG_STRING, a padding byte, then the
 * string's UTF-16 code units in native order (lone surrogates survive, as structured clone
 * requires). Everything else is a Buffer lib/ made with V8's serializer. */
#define TAG_STRING 3
#define SMALL_PAYLOAD 1024

typedef struct payload {
  const uint8_t *data;
  size_t len;
  uint8_t *owned;              /* malloc'd storage, if any */
  uint8_t small[SMALL_PAYLOAD]; /* storage for short strings */
} payload;

/* data: a string (encoded here) or a Uint8Array/ArrayBuffer (taken as is). 0 on bad input. */
static int payload_of(napi_env env, napi_value v, payload *p) {
  p->owned = NULL;
  /* A short string, the common message, takes one call: copied straight into `small`
   * (buf + 2 is 2-aligned: small is at an 8-aligned offset, malloc aligns to 16). */
  uint8_t *buf = p->small;
  size_t cap = (sizeof p->small - 2) / 2; /* code units, with napi's terminator */
  size_t got = 0;
  napi_status st = napi_get_value_string_utf16(env, v, (char16_t *)(void *)(buf + 2), cap, &got);
  if (st == napi_string_expected) return bytes_of(env, v, &p->data, &p->len);
  if (st != napi_ok) return 0;
  if (got + 1 >= cap) { /* filled: maybe cut short; measure and copy again */
    size_t units = 0;
    if (napi_get_value_string_utf16(env, v, NULL, 0, &units) != napi_ok) return 0;
    if (units + 1 > cap) {
      buf = p->owned = malloc(2 + units * 2 + 2);
      if (!buf) return 0;
      if (napi_get_value_string_utf16(env, v, (char16_t *)(void *)(buf + 2), units + 1, &got) != napi_ok) return 0;
    }
  }
  buf[0] = TAG_STRING;
  buf[1] = 0;
  p->data = buf;
  p->len = 2 + got * 2;
  return 1;
}

static void payload_free(payload *p) { free(p->owned); }

/* A delivered message as a JS value: a string for TAG_STRING, else a Buffer copy. */
static napi_value message_value(napi_env env, const uint8_t *data, size_t len) {
  napi_value out = NULL;
  if (len >= 2 && data[0] == TAG_STRING && (len & 1) == 0) {
    size_t units = (len - 2) / 2;
    const uint8_t *src = data + 2;
    if (((uintptr_t)src & 1) == 0) {
      napi_create_string_utf16(env, (const char16_t *)(const void *)src, units, &out);
    } else {
      char16_t *tmp = malloc(units ? units * 2 : 1);
      if (!tmp) return NULL;
      memcpy(tmp, src, units * 2);
      napi_create_string_utf16(env, tmp, units, &out);
      free(tmp);
    }
    return out;
  }
  napi_create_buffer_copy(env, len, data, NULL, &out);
  return out;
}

/* A JS array of port handle BigInts as a malloc'd C array (NULL with *n = 0 for undefined). */
static int ports_of(napi_env env, napi_value v, pm_port ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_undefined || t == napi_null) return 1;
  bool is = false;
  uint32_t len = 0;
  if (napi_is_array(env, v, &is) != napi_ok || !is || napi_get_array_length(env, v, &len) != napi_ok) return 0;
  if (len == 0) return 1;
  pm_port **ports = calloc(len, sizeof *ports);
  if (!ports) return 0;
  for (uint32_t i = 0; i < len; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok) {
      free(ports);
      return 0;
    }
    ports[i] = port_of(env, e);
  }
  *out = ports;
  *n = len;
  return 1;
}

static napi_value ports_array(napi_env env, pm_port *const *ports, size_t n) {
  napi_value arr = NULL;
  if (n == 0) {
    napi_get_undefined(env, &arr);
    return arr;
  }
  napi_create_array_with_length(env, n, &arr);
  for (size_t i = 0; i < n; i++) napi_set_element(env, arr, (uint32_t)i, handle_value(env, ports[i]));
  return arr;
}

static int on_js_thread(addon *ad) {
  if (ad && !ad->thread_gone && pthread_equal(ad->thread, pthread_self())) return 1;
  atomic_fetch_add(&g_foreign_calls, 1);
  return 0;
}

/* Calls a registered JS function; a JS exception cannot unwind through the library, so it is
 * reported as an uncaught exception (lib/ catches listener errors itself; this is the backstop).
 * Called straight from drain() (no JS on the stack) it is a napi_make_callback, after which Node
 * runs the microtask checkpoint and nextTicks; nested calls (sync delivery, a listener's own
 * posts) are plain calls, as their checkpoint belongs to the outermost callback. */
enum { FN_WINDOW, FN_PORT, FN_BROADCAST, FN_DROP, FN_BATCH, FN_COUNT };

static napi_ref fn_ref_of(addon *ad, int which) {
  switch (which) {
  case FN_WINDOW: return ad->on_window;
  case FN_PORT: return ad->on_port;
  case FN_BROADCAST: return ad->on_broadcast;
  case FN_BATCH: return ad->on_batch;
  default: return ad->on_drop;
  }
}

/* 1 when the function ran to completion. */
static int call_js(addon *ad, int which, size_t argc, napi_value *argv) {
  napi_env env = ad->env;
  napi_value fn = NULL, recv, result;
  if (ad->dv_valid) {
    fn = ad->dv_fn[which];
  } else {
    napi_ref ref = fn_ref_of(ad, which);
    if (ref) napi_get_reference_value(env, ref, &fn);
  }
  if (!fn) return 0;
  napi_status st;
  if (ad->top_level) {
    ad->top_level = 0;
    /* MakeCallback needs an object receiver (for its context) */
    if (ad->dv_valid) recv = ad->dv_global;
    else napi_get_global(env, &recv);
    st = napi_make_callback(env, ad->async_ctx, recv, fn, argc, argv, &result);
    ad->top_level = 1;
  } else {
    napi_get_undefined(env, &recv);
    st = napi_call_function(env, recv, fn, argc, argv, &result);
  }
  if (st != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    return 0;
  }
  return 1;
}

static napi_value undefined_value(addon *ad) {
  if (ad->dv_valid) return ad->dv_undefined;
  napi_value v = NULL;
  napi_get_undefined(ad->env, &v);
  return v;
}

/* Copies s into *buf (grown as needed); 0 when out of memory. */
static int remember(char **buf, size_t *cap, const char *s) {
  size_t n = strlen(s) + 1;
  if (n > *cap) {
    char *p = realloc(*buf, n);
    if (!p) return 0;
    *buf = p;
    *cap = n;
  }
  memcpy(*buf, s, n);
  return 1;
}

/* Remembers the origin last sent to onWindowMessage; 0 when out of memory. */
static int remember_origin(addon *ad, const char *origin) {
  return remember(&ad->sent_origin, &ad->sent_origin_cap, origin);
}

/* ---- batched queued delivery ------------------------------------------------------------
 * Inside drain(), when lib/ gave init an onBatch function, the listeners and the drop handler
 * call no JS: each appends a record (values of the drain chunk's handle scope) and drain()
 * hands the chunk's records to onBatch in one make_callback. lib/ delivers them in order and
 * runs Node's microtask checkpoint and nextTicks between them, as Node does between
 * immediates; the make_callback per message this saves was the largest cost of a delivery.
 * Records: [0, id, data, origin|undefined, source|undefined, ports|undefined] (a window
 * message; origin and source undefined when the same as the batch's previous window record),
 * [1, id, data, ports|undefined] (a port), [2, id, data, origin] (a broadcast channel),
 * [3, reason, sourceOrigin, targetOrigin, requested, source, target] (a drop). */
enum { REC_WINDOW, REC_PORT, REC_BROADCAST, REC_DROP };
#define BATCH_CAP 896 /* napi_values: a chunk's 64 tasks, with room to spare (full: flushed) */

static int batching(addon *ad) { return ad->top_level && ad->dv_valid && ad->dv_fn[FN_BATCH] && ad->batch; }

/* Hands the collected records to onBatch; the next batch starts with nothing remembered. */
static void flush_batch(addon *ad) {
  size_t n = ad->nbatch;
  ad->nbatch = 0;
  ad->b_origin_valid = ad->b_source_valid = 0;
  if (n) call_js(ad, FN_BATCH, n, ad->batch);
}

/* n slots for a record (flushing first when full); NULL values read as undefined. */
static napi_value *batch_room(addon *ad, size_t n) {
  if (ad->nbatch + n > BATCH_CAP) flush_batch(ad);
  napi_value *r = ad->batch + ad->nbatch;
  ad->nbatch += n;
  return r;
}

static void batch_fix(addon *ad, napi_value *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!r[i]) r[i] = ad->dv_undefined;
}

/* ---- library callbacks ---------------------------------------------------------------- */

/* Called by drain() (no JS on the stack), the listeners use its chunk's handle scope. */
static int in_drain_chunk(addon *ad) { return ad->top_level && ad->dv_valid; }

static napi_value id_value(addon *ad, double id) {
  if (!in_drain_chunk(ad)) return num(ad->env, id);
  if (!ad->dv_id_valid || ad->dv_id != id) {
    ad->dv_id_value = num(ad->env, id);
    ad->dv_id = id;
    ad->dv_id_valid = ad->dv_id_value != NULL;
  }
  return ad->dv_id_value;
}

/* The batch record of a delivered message, n slots: its tag, the receiver's id and the data
 * filled in; the caller fills the rest. */
static napi_value *message_record(addon *ad, int tag, double id, const pm_message_event *ev,
                                  size_t n) {
  napi_value *r = batch_room(ad, n);
  r[0] = ad->dv_tag[tag];
  r[1] = id_value(ad, id);
  r[2] = message_value(ad->env, ev->data, ev->data_len);
  return r;
}

static void window_listener(const pm_message_event *ev, void *user_data) {
  listen_ctx *ctx = user_data;
  addon *ad = ctx->ad;
  if (!on_js_thread(ad)) return;
  napi_env env = ad->env;
  if (batching(ad)) {
    napi_value *r = message_record(ad, REC_WINDOW, ctx->id, ev, 6);
    if (ad->b_origin_valid && strcmp(ad->b_origin, ev->origin) == 0) {
      r[3] = ad->dv_undefined;
    } else {
      r[3] = NULL;
      napi_create_string_utf8(env, ev->origin, NAPI_AUTO_LENGTH, &r[3]);
      ad->b_origin_valid = r[3] && remember(&ad->b_origin, &ad->b_origin_cap, ev->origin);
    }
    if (ad->b_source_valid && ad->b_source == ev->source) {
      r[4] = ad->dv_undefined;
    } else {
      r[4] = handle_value(env, ev->source);
      ad->b_source = ev->source;
      ad->b_source_valid = r[4] != NULL;
    }
    r[5] = ev->ports_len ? ports_array(env, ev->ports, ev->ports_len) : ad->dv_undefined;
    batch_fix(ad, r, 6);
    return;
  }
  napi_handle_scope scope = NULL;
  if (!in_drain_chunk(ad) && napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value undef = undefined_value(ad);
  napi_value argv[5];
  argv[0] = id_value(ad, ctx->id);
  argv[1] = message_value(env, ev->data, ev->data_len);
  if (ad->sent_valid && strcmp(ad->sent_origin, ev->origin) == 0) {
    argv[2] = undef;
  } else {
    napi_create_string_utf8(env, ev->origin, NAPI_AUTO_LENGTH, &argv[2]);
    ad->sent_valid = 0;
  }
  argv[3] = ad->sent_valid && ad->sent_source == ev->source ? undef : handle_value(env, ev->source);
  argv[4] = ev->ports_len ? ports_array(env, ev->ports, ev->ports_len) : undef;
  /* set before the call: a nested delivery (sync mode) inside it leaves its own values */
  ad->sent_valid = (ad->sent_valid || remember_origin(ad, ev->origin));
  ad->sent_source = ev->source;
  if (!call_js(ad, FN_WINDOW, 5, argv)) ad->sent_valid = 0;
  if (scope) napi_close_handle_scope(env, scope);
}

/* A port's or channel's delivery as a record [tag, id, data, extra] when batching, else the
 * call fn(id, data, extra); `extra` makes the last value: a port's transferred ports, a
 * channel's origin. */
static void channel_listener(const pm_message_event *ev, listen_ctx *ctx, int tag, int fn,
                             napi_value (*extra)(addon *, const pm_message_event *)) {
  addon *ad = ctx->ad;
  if (!on_js_thread(ad)) return;
  napi_env env = ad->env;
  if (batching(ad)) {
    napi_value *r = message_record(ad, tag, ctx->id, ev, 4);
    r[3] = extra(ad, ev);
    batch_fix(ad, r, 4);
    return;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[3];
  argv[0] = num(env, ctx->id);
  argv[1] = message_value(env, ev->data, ev->data_len);
  argv[2] = extra(ad, ev);
  call_js(ad, fn, 3, argv);
  napi_close_handle_scope(env, scope);
}

static napi_value port_extra(addon *ad, const pm_message_event *ev) {
  return ev->ports_len ? ports_array(ad->env, ev->ports, ev->ports_len) : undefined_value(ad);
}

static napi_value broadcast_extra(addon *ad, const pm_message_event *ev) {
  napi_value origin = NULL;
  napi_create_string_utf8(ad->env, ev->origin, NAPI_AUTO_LENGTH, &origin);
  return origin;
}

static void port_listener(const pm_message_event *ev, void *user_data) {
  channel_listener(ev, user_data, REC_PORT, FN_PORT, port_extra);
}

static void broadcast_listener(const pm_message_event *ev, void *user_data) {
  channel_listener(ev, user_data, REC_BROADCAST, FN_BROADCAST, broadcast_extra);
}

static void free_ctx(void *user_data) { free(user_data); }

/* The process-wide drop handler belongs to the first env that asks for it. */
static _Atomic(addon *) g_drop_addon;

static void drop_handler(const pm_drop_event *ev, void *user_data) {
  (void)user_data;
  addon *ad = atomic_load(&g_drop_addon);
  if (!ad || !on_js_thread(ad)) return;
  napi_env env = ad->env;
  if (batching(ad)) {
    napi_value *r = batch_room(ad, 7);
    r[0] = ad->dv_tag[REC_DROP];
    r[1] = num(env, (double)ev->reason);
    r[2] = r[3] = r[4] = NULL;
    napi_create_string_utf8(env, ev->source_origin, NAPI_AUTO_LENGTH, &r[2]);
    napi_create_string_utf8(env, ev->target_origin, NAPI_AUTO_LENGTH, &r[3]);
    napi_create_string_utf8(env, ev->requested_origin, NAPI_AUTO_LENGTH, &r[4]);
    r[5] = handle_value(env, ev->source);
    r[6] = handle_value(env, ev->target);
    batch_fix(ad, r, 7);
    return;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[7];
  argv[0] = num(env, (double)ev->reason);
  napi_create_string_utf8(env, ev->source_origin, NAPI_AUTO_LENGTH, &argv[1]);
  napi_create_string_utf8(env, ev->target_origin, NAPI_AUTO_LENGTH, &argv[2]);
  napi_create_string_utf8(env, ev->requested_origin, NAPI_AUTO_LENGTH, &argv[3]);
  argv[4] = handle_value(env, ev->source);
  argv[5] = handle_value(env, ev->target);
  argv[6] = num(env, (double)ev->data_len);
  call_js(ad, FN_DROP, 7, argv);
  napi_close_handle_scope(env, scope);
}

/* Messages delivered under one handle scope by drain(): bounds what a long queue keeps alive. */
#define DRAIN_CHUNK 64

/* ---- queued delivery: the waker and the drain ------------------------------------------
 *
 * libuv's async handle, declared here: node-api-headers ships no uv.h, and these few libuv 1.x
 * entry points (exported by every Node binary for addons, see napi_get_uv_event_loop) have kept
 * their ABI since libuv 1.0. The handle's size comes from uv_handle_size(), so its layout is
 * never assumed; it lives at the end of an async_box, found again by its offset. */
typedef struct uv_handle_s uv_handle_t;
typedef struct uv_async_s uv_async_t;
extern size_t uv_handle_size(int type);
extern int uv_async_init(struct uv_loop_s *loop, uv_async_t *async, void (*cb)(uv_async_t *));
extern int uv_async_send(uv_async_t *async);
extern void uv_close(uv_handle_t *handle, void (*cb)(uv_handle_t *));
extern void uv_ref(uv_handle_t *handle);
extern void uv_unref(uv_handle_t *handle);
#define PM_UV_ASYNC 1 /* UV_ASYNC in uv_handle_type: the first after UV_UNKNOWN_HANDLE */

typedef struct async_box {
  addon *ad;
  napi_async_cleanup_hook_handle cleanup;
  alignas(max_align_t) unsigned char handle[]; /* uv_async_t, uv_handle_size(UV_ASYNC) bytes */
} async_box;

static async_box *box_of(void *handle) {
  return (async_box *)(void *)((unsigned char *)handle - offsetof(async_box, handle));
}

static uv_async_t *async_of(async_box *b) { return (uv_async_t *)(void *)b->handle; }

/* Adds w to the woken list unless it is there (wake_lock held). 0 when out of memory. */
static int add_woken(addon *ad, pm_window *w) {
  for (size_t i = 0; i < ad->nwoken; i++)
    if (ad->woken[i] == w) return 1;
  if (ad->nwoken == ad->capwoken) {
    size_t cap = ad->capwoken ? ad->capwoken * 2 : 16;
    pm_window **t = realloc(ad->woken, cap * sizeof *t);
    if (!t) return 0;
    ad->woken = t;
    ad->capwoken = cap;
  }
  ad->woken[ad->nwoken++] = w;
  return 1;
}

/* The waker: runs on whichever thread queued the message (the window's queue just became
 * non-empty). It records the window and signals the env's async handle (uv_async_send is
 * thread-safe; sends coalesce into one drain). A wake from the JS thread also refs the handle,
 * so `node script.js` does not exit with a message still queued; the drain unrefs it once every
 * queue it knows is empty, so idle documents hold no loop reference. */
static void waker(pm_window *window, void *user_data) {
  addon *ad = user_data;
  pthread_mutex_lock(&ad->wake_lock);
  int ok = !ad->wake_closed && add_woken(ad, window);
  if (ok) uv_async_send(async_of(ad->wake));
  pthread_mutex_unlock(&ad->wake_lock);
  /* not ok: closing, or out of memory; the message stays queued until the next wake */
  if (ok && pthread_equal(ad->thread, pthread_self()) && !ad->thread_gone && !ad->holding) {
    ad->holding = 1;
    uv_ref((uv_handle_t *)(void *)async_of(ad->wake));
  }
}

/* The async handle's callback, on the JS thread with no JavaScript on the stack. Each woken
 * window delivers the messages queued when its turn comes, one pm_window_run_pending call for
 * all of them; what listeners queue meanwhile waits for the next turn of the loop (the window
 * goes back on the list), so a document posting to itself forever cannot starve timers or I/O. */
static void drain(uv_async_t *async) {
  addon *ad = box_of(async)->ad;
  if (!ad || ad->thread_gone) return;
  pthread_mutex_lock(&ad->wake_lock);
  pm_window **list = ad->woken;
  size_t n = ad->nwoken;
  ad->woken = NULL;
  ad->nwoken = ad->capwoken = 0;
  pthread_mutex_unlock(&ad->wake_lock);

  napi_handle_scope scope;
  int scoped = napi_open_handle_scope(ad->env, &scope) == napi_ok;
  if (scoped) { /* the values every message's call uses, made once */
    napi_env env = ad->env;
    int ok = napi_get_undefined(env, &ad->dv_undefined) == napi_ok && napi_get_global(env, &ad->dv_global) == napi_ok;
    for (int k = 0; k < FN_COUNT && ok; k++) {
      napi_ref ref = fn_ref_of(ad, k);
      ad->dv_fn[k] = NULL;
      if (ref) ok = napi_get_reference_value(env, ref, &ad->dv_fn[k]) == napi_ok;
    }
    for (int k = 0; k < 4 && ok; k++) ok = napi_create_int32(env, k, &ad->dv_tag[k]) == napi_ok;
    ad->dv_valid = ok;
  }
  for (size_t i = 0; i < n && scoped; i++) {
    size_t want = pm_window_pending(list[i]); /* 0 for a window freed meanwhile */
    if (want == 0) continue;
    /* in chunks, each in a handle scope of its own that the listener calls share */
    while (want > 0 && !ad->thread_gone) {
      napi_handle_scope chunk;
      if (napi_open_handle_scope(ad->env, &chunk) != napi_ok) break;
      ad->dv_id_valid = 0;
      ad->nbatch = 0;
      ad->b_origin_valid = ad->b_source_valid = 0;
      ad->top_level = 1;
      size_t ran = pm_window_run_pending(list[i], want < DRAIN_CHUNK ? want : DRAIN_CHUNK);
      if (!ad->thread_gone) flush_batch(ad);
      ad->nbatch = 0;
      ad->top_level = 0;
      ad->dv_id_valid = 0;
      napi_close_handle_scope(ad->env, chunk);
      if (ran == 0 || ran > want) break;
      want -= ran;
    }
    if (ad->thread_gone) break;
    if (pm_window_pending(list[i]) > 0) { /* queued meanwhile: the next turn */
      pthread_mutex_lock(&ad->wake_lock);
      if (!ad->wake_closed && add_woken(ad, list[i])) uv_async_send(async);
      pthread_mutex_unlock(&ad->wake_lock);
    }
  }
  ad->dv_valid = 0;
  if (scoped) napi_close_handle_scope(ad->env, scope);
  free(list);

  pthread_mutex_lock(&ad->wake_lock);
  int waiting = ad->nwoken > 0;
  pthread_mutex_unlock(&ad->wake_lock);
  if (waiting != ad->holding && !ad->thread_gone) {
    ad->holding = waiting;
    if (waiting) uv_ref((uv_handle_t *)(void *)async);
    else uv_unref((uv_handle_t *)(void *)async);
  }
}

static void async_closed(uv_handle_t *handle) {
  async_box *b = box_of(handle);
  napi_remove_async_cleanup_hook(b->cleanup);
  free(b);
}

/* Env teardown (a worker exiting, the process ending): the handle must be closed before Node
 * closes the loop. Wakers from other threads see wake_closed and leave it alone. */
static void close_async(napi_async_cleanup_hook_handle handle, void *arg) {
  async_box *b = arg;
  addon *ad = b->ad; /* NULL when the addon's data was finalized first */
  b->cleanup = handle;
  if (ad) {
    pthread_mutex_lock(&ad->wake_lock);
    ad->wake_closed = 1;
    ad->wake = NULL;
    pthread_mutex_unlock(&ad->wake_lock);
  }
  uv_close((uv_handle_t *)(void *)async_of(b), async_closed);
}

/* ---- functions exported to lib/ ------------------------------------------------------ */

/* The one library listener a window, port or channel has for lib/: `add` adds it to the handle
 * `target`, its deliveries naming the object by the JS number `id`. Returns the listener id, or
 * 0 when it could not be added (the library then never calls free_ctx, so the context is freed
 * here). */
typedef uint64_t (*add_listener_fn)(uintptr_t target, listen_ctx *ctx);

static uint64_t add_listener(napi_env env, add_listener_fn add, uintptr_t target, napi_value id) {
  listen_ctx *ctx = new_ctx(env, id);
  if (!ctx) return 0;
  uint64_t listener = add(target, ctx);
  if (listener == 0) free(ctx);
  return listener;
}

static uint64_t add_window_listener(uintptr_t window, listen_ctx *ctx) {
  return pm_add_listener_full((pm_window *)window, window_listener, ctx, free_ctx);
}

static uint64_t add_port_listener(uintptr_t port, listen_ctx *ctx) {
  return pm_port_add_listener_full((pm_port *)port, port_listener, ctx, free_ctx);
}

static uint64_t add_broadcast_listener(uintptr_t channel, listen_ctx *ctx) {
  return pm_broadcast_add_listener_full((pm_broadcast *)channel, broadcast_listener, ctx, free_ctx);
}

static napi_value result_value(napi_env env, pm_result r) { return num(env, (double)r); }

/* init(onWindow, onPort, onBroadcast, onDrop[, onBatch]): without onBatch, every queued
 * delivery is its own make_callback. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  addon *ad = get_addon(env);
  napi_ref *refs[5] = {&ad->on_window, &ad->on_port, &ad->on_broadcast, &ad->on_drop, &ad->on_batch};
  for (int i = 0; i < 5; i++) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[i], &t));
    if (i == 4 && t == napi_undefined) {
      if (*refs[i]) napi_delete_reference(env, *refs[i]);
      *refs[i] = NULL;
      continue;
    }
    if (t != napi_function) return throw_type(env, "init expects four functions and an optional fifth");
    if (*refs[i]) napi_delete_reference(env, *refs[i]);
    *refs[i] = NULL;
    ad->dv_valid = 0; /* a drain running now must not keep calling the old functions */
    ad->sent_valid = 0;
    CHECK(napi_create_reference(env, argv[i], 1, refs[i]));
  }
  return NULL;
}

static napi_value js_last_error(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  napi_create_string_utf8(env, pm_last_error(), NAPI_AUTO_LENGTH, &s);
  return s;
}

static napi_value js_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  napi_create_string_utf8(env, pm_version(), NAPI_AUTO_LENGTH, &s);
  return s;
}

static napi_value js_foreign_calls(napi_env env, napi_callback_info info) {
  (void)info;
  return num(env, (double)atomic_load(&g_foreign_calls));
}

/* windowNew(url[, parent]) -> handle, or 0 (see lastError) */
static napi_value js_window_new(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  char *url = string_of(env, argv[0]);
  if (!url) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  pm_window *w = t == napi_undefined ? pm_window_new(url)
                                     : pm_window_new_child(window_of(env, argv[1]), url);
  free(url);
  if (w && t == napi_undefined) track_top(get_addon(env), w);
  return handle_value(env, w);
}

static napi_value js_window_free(napi_env env, napi_callback_info info) {
  pm_window *w = window_of(env, first_arg(env, info));
  pm_result r = pm_window_free(w);
  if (r == PM_OK) untrack_top(get_addon(env), w);
  return result_value(env, r);
}

static napi_value js_window_navigate(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  char *url = string_of(env, argv[1]);
  if (!url) return NULL;
  pm_result r = pm_window_navigate(window_of(env, argv[0]), url);
  free(url);
  return result_value(env, r);
}

static napi_value js_window_origin(napi_env env, napi_callback_info info) {
  pm_window *w = window_of(env, first_arg(env, info));
  char buf[256];
  size_t n = pm_window_origin(w, buf, sizeof buf);
  napi_value s;
  if (n >= sizeof buf) {
    char *big = malloc(n + 1);
    if (!big) return NULL;
    pm_window_origin(w, big, n + 1);
    napi_create_string_utf8(env, big, n, &s);
    free(big);
  } else {
    napi_create_string_utf8(env, buf, n, &s);
  }
  return s;
}

/* windowListen(w, id) -> listener id (0 on error): the one library listener a document has;
 * its deliveries name the window by `id`. */
static napi_value js_window_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  return num(env, (double)add_listener(env, add_window_listener, handle_of(env, argv[0]), argv[1]));
}

/* windowSetQueued(w, queued) -> result: queued mode with the loop-waking waker, or sync. */
static napi_value js_window_set_queued(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  bool queued = false;
  napi_get_value_bool(env, argv[1], &queued);
  pm_window *w = window_of(env, argv[0]);
  pm_result r = pm_window_set_waker(w, queued ? waker : NULL, get_addon(env));
  if (r == PM_OK) r = pm_window_set_dispatch_mode(w, queued ? PM_DISPATCH_QUEUED : PM_DISPATCH_SYNC);
  return result_value(env, r);
}

static napi_value js_window_pending(napi_env env, napi_callback_info info) {
  return num(env, (double)pm_window_pending(window_of(env, first_arg(env, info))));
}

static napi_value js_window_run_pending(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  double max = 0;
  napi_get_value_double(env, argv[1], &max);
  size_t m = max >= 1 ? (max > 1e15 ? (size_t)-1 : (size_t)max) : 0;
  return num(env, (double)pm_window_run_pending(window_of(env, argv[0]), m));
}

static napi_value js_set_queue_limit(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  double msgs = 0, bytes = 0;
  napi_get_value_double(env, argv[1], &msgs);
  napi_get_value_double(env, argv[2], &bytes);
  if (!(msgs >= 0) || !(bytes >= 0)) return result_value(env, PM_ERR_INVALID_ARGUMENT);
  return result_value(env, pm_window_set_queue_limit(window_of(env, argv[0]),
                                                     (size_t)msgs, (size_t)bytes));
}

#define MAX_ORIGINS (sizeof ((addon *)0)->origins / sizeof ((addon *)0)->origins[0])

/* internOrigin(targetOrigin) -> its index for post(), or -1 (the table is full, or the string
 * has a NUL, which post() must see to refuse it). Interning the same string again gives the
 * same index. */
static napi_value js_intern_origin(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    return throw_type(env, "internOrigin: expected a string");
  }
  char *s = malloc(len + 1);
  if (!s) return num(env, -1);
  napi_get_value_string_utf8(env, argv[0], s, len + 1, &len);
  addon *ad = get_addon(env);
  if (strlen(s) != len) {
    free(s);
    return num(env, -1);
  }
  for (size_t i = 0; i < ad->norigins; i++) {
    if (strcmp(ad->origins[i], s) == 0) {
      free(s);
      return num(env, (double)i);
    }
  }
  if (ad->norigins == MAX_ORIGINS) {
    free(s);
    return num(env, -1);
  }
  ad->origins[ad->norigins] = s;
  return num(env, (double)ad->norigins++);
}

/* post(source, target, bytes, targetOrigin, transferPorts) -> result. targetOrigin is a string
 * or an index from internOrigin. */
static napi_value js_post(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  char origin_small[256];
  char *origin = origin_small;
  int origin_owned = 0; /* origin was malloc'd here */
  size_t olen = 0;
  double oid = 0;
  if (napi_get_value_double(env, argv[3], &oid) == napi_ok) { /* an interned targetOrigin */
    addon *ad = get_addon(env);
    if (!(oid >= 0 && oid < (double)ad->norigins && oid == (double)(size_t)oid)) {
      return throw_type(env, "post: targetOrigin is not a string or an interned origin's index");
    }
    origin = ad->origins[(size_t)oid];
  } else if (napi_get_value_string_utf8(env, argv[3], origin_small, sizeof origin_small, &olen) != napi_ok) {
    /* the common targetOrigin fits on the stack */
    return throw_type(env, "post: targetOrigin must be a string");
  } else if (olen >= sizeof origin_small - 1) {
    origin = string_of(env, argv[3]);
    if (!origin) return NULL;
    origin_owned = 1;
  } else if (strlen(origin_small) != olen) {
    return result_value(env, PM_ERR_SYNTAX); /* an embedded NUL: not a URL */
  }
  pm_port **ports;
  size_t nports;
  payload p;
  ports = NULL;
  nports = 0;
  if (argc >= 5 && !ports_of(env, argv[4], &ports, &nports)) { /* omitted: no transfer */
    if (origin_owned) free(origin);
    return throw_type(env, "post: transfer must be an array of port handles");
  }
  if (!payload_of(env, argv[2], &p)) {
    if (origin_owned) free(origin);
    free(ports);
    return throw_type(env, "post: data must be a string or a Uint8Array");
  }
  pm_window *source = window_of(env, argv[0]), *target = window_of(env, argv[1]);
  pm_result r = nports ? pm_post_message_transfer(source, target, p.data, p.len, origin, ports, nports)
                       : pm_post_message(source, target, p.data, p.len, origin);
  payload_free(&p);
  if (origin_owned) free(origin);
  free(ports);
  return result_value(env, r);
}

/* channelNew(owner) -> [port1, port2], or a number (the error result) */
static napi_value js_channel_new(napi_env env, napi_callback_info info) {
  pm_port *a = NULL, *b = NULL;
  pm_result r = pm_channel_new(window_of(env, first_arg(env, info)), &a, &b);
  if (r != PM_OK) return result_value(env, r);
  napi_value arr;
  CHECK(napi_create_array_with_length(env, 2, &arr));
  napi_set_element(env, arr, 0, handle_value(env, a));
  napi_set_element(env, arr, 1, handle_value(env, b));
  return arr;
}

static napi_value js_port_post(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  pm_port **ports;
  size_t nports;
  if (!ports_of(env, argv[2], &ports, &nports)) {
    return throw_type(env, "portPost: transfer must be an array of port handles");
  }
  payload p;
  if (!payload_of(env, argv[1], &p)) {
    free(ports);
    return throw_type(env, "portPost: data must be a string or a Uint8Array");
  }
  pm_result r = pm_port_post_message(port_of(env, argv[0]), p.data, p.len, ports, nports);
  payload_free(&p);
  free(ports);
  return result_value(env, r);
}

/* portListen(port, id) -> listener id (0 on error); starts the port. */
static napi_value js_port_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  return num(env, (double)add_listener(env, add_port_listener, handle_of(env, argv[0]), argv[1]));
}

static napi_value js_port_close(napi_env env, napi_callback_info info) {
  return result_value(env, pm_port_close(port_of(env, first_arg(env, info))));
}

/* broadcastNew(window, name, id) -> handle, or 0 */
static napi_value js_broadcast_new(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  char *name = string_of(env, argv[1]);
  if (!name) return NULL;
  pm_broadcast *b = pm_broadcast_new(window_of(env, argv[0]), name);
  free(name);
  if (b && !add_listener(env, add_broadcast_listener, (uintptr_t)b, argv[2])) {
    pm_broadcast_close(b);
    b = NULL;
  }
  return handle_value(env, b);
}

static napi_value js_broadcast_post(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  payload p;
  if (!payload_of(env, argv[1], &p)) {
    return throw_type(env, "broadcastPost: data must be a string or a Uint8Array");
  }
  pm_result r = pm_broadcast_post_message(channel_of(env, argv[0]), p.data, p.len);
  payload_free(&p);
  return result_value(env, r);
}

static napi_value js_broadcast_close(napi_env env, napi_callback_info info) {
  return result_value(env, pm_broadcast_close(channel_of(env, first_arg(env, info))));
}

/* setDropReports(on): install (or remove) the process-wide drop handler for this env. */
static napi_value js_set_drop_reports(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  bool on = false;
  napi_get_value_bool(env, argv[0], &on);
  addon *ad = get_addon(env);
  addon *expected = NULL;
  if (on) {
    if (!atomic_compare_exchange_strong(&g_drop_addon, &expected, ad) && expected != ad)
      return result_value(env, PM_ERR_INVALID_ARGUMENT); /* another env (worker) owns it */
    ad->drop_handler = 1;
    return result_value(env, pm_set_drop_handler(drop_handler, NULL));
  }
  expected = ad;
  if (atomic_compare_exchange_strong(&g_drop_addon, &expected, NULL)) {
    ad->drop_handler = 0;
    return result_value(env, pm_set_drop_handler(NULL, NULL));
  }
  return result_value(env, PM_OK);
}

static void addon_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  addon *ad = data;
  if (ad->drop_handler) {
    addon *expected = ad;
    if (atomic_compare_exchange_strong(&g_drop_addon, &expected, NULL)) pm_set_drop_handler(NULL, NULL);
  }
  /* no JS runs from here on: listeners and the drop handler check on_js_thread, and the drop
   * handler was removed above; freeing the windows only drops their queues */
  ad->thread_gone = 1;
  for (size_t i = 0; i < ad->ntops; i++) pm_window_free(ad->tops[i]);
  free(ad->tops);
  napi_ref refs[5] = {ad->on_window, ad->on_port, ad->on_broadcast, ad->on_drop, ad->on_batch};
  free(ad->sent_origin);
  free(ad->b_origin);
  for (size_t i = 0; i < ad->norigins; i++) free(ad->origins[i]);
  free(ad->batch);
  for (int i = 0; i < 5; i++)
    if (refs[i]) napi_delete_reference(env, refs[i]);
  if (ad->async_ctx) napi_async_destroy(env, ad->async_ctx);
  /* the async handle was closed by close_async, which Node runs before this */
  pthread_mutex_lock(&ad->wake_lock);
  ad->wake_closed = 1;
  if (ad->wake) ad->wake->ad = NULL;
  pthread_mutex_unlock(&ad->wake_lock);
  free(ad->woken);
  pthread_mutex_destroy(&ad->wake_lock);
  free(ad);
}

static napi_value addon_init(napi_env env, napi_value exports) {
  addon *ad = calloc(1, sizeof *ad);
  if (!ad) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  ad->env = env;
  ad->thread = pthread_self();
  ad->batch = malloc(BATCH_CAP * sizeof *ad->batch); /* NULL: no batching, one call a message */
  pthread_mutex_init(&ad->wake_lock, NULL);
  /* the async handle the waker signals: unref'd, so idle documents keep no loop reference */
  struct uv_loop_s *loop = NULL;
  size_t hsize = uv_handle_size(PM_UV_ASYNC);
  async_box *box = NULL;
  napi_value name;
  napi_create_string_utf8(env, "postmessage", NAPI_AUTO_LENGTH, &name);
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || hsize == 0 || hsize > 4096 ||
      !(box = calloc(1, sizeof *box + hsize)) || uv_async_init(loop, async_of(box), drain) != 0) {
    free(box);
    free(ad);
    napi_throw_error(env, NULL, "postmessage addon: cannot set up the libuv async handle");
    return NULL;
  }
  box->ad = ad;
  ad->wake = box;
  uv_unref((uv_handle_t *)(void *)async_of(box));
  if (napi_async_init(env, NULL, name, &ad->async_ctx) != napi_ok ||
      napi_add_async_cleanup_hook(env, close_async, box, &box->cleanup) != napi_ok) {
    throw_last_napi(env, "napi_async_init");
    return NULL; /* the handle stays open: the env is unusable anyway */
  }
  if (napi_set_instance_data(env, ad, addon_finalize, NULL) != napi_ok) {
    free(ad);
    throw_last_napi(env, "napi_set_instance_data");
    return NULL;
  }
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {
      {"init", js_init},
      {"lastError", js_last_error},
      {"version", js_version},
      {"foreignCalls", js_foreign_calls},
      {"windowNew", js_window_new},
      {"windowFree", js_window_free},
      {"windowNavigate", js_window_navigate},
      {"windowOrigin", js_window_origin},
      {"windowListen", js_window_listen},
      {"windowSetQueued", js_window_set_queued},
      {"windowPending", js_window_pending},
      {"windowRunPending", js_window_run_pending},
      {"setQueueLimit", js_set_queue_limit},
      {"post", js_post},
      {"internOrigin", js_intern_origin},
      {"channelNew", js_channel_new},
      {"portPost", js_port_post},
      {"portListen", js_port_listen},
      {"portClose", js_port_close},
      {"broadcastNew", js_broadcast_new},
      {"broadcastPost", js_broadcast_post},
      {"broadcastClose", js_broadcast_close},
      {"setDropReports", js_set_drop_reports},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn));
    CHECK(napi_set_named_property(env, exports, fns[i].name, fn));
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, addon_init)
