/* remote_redis.c: the reference scenario between two processes that only share a Redis server
 * (they may run on two machines), over Redis pub/sub, plus a BroadcastChannel message.
 *
 *   remote_redis B [HOST [PORT [PREFIX]]]     # the iframe's process (start it first, or not)
 *   remote_redis A [HOST [PORT [PREFIX]]]     # the page's process
 *
 * HOST and PORT are the Redis server's (default 127.0.0.1 6379); PREFIX names the session's
 * channels (default "postmessage-demo"): PREFIX:A and PREFIX:B carry the records meant for that
 * process, PREFIX:broadcast the BroadcastChannel records. Client library: hiredis.
 *
 *   process A                                  process B
 *     a       http://127.0.0.1/index.html        a_proxy   proxy for a
 *     b_proxy proxy for b, a child of a          b         http://localhost/frame.html, child of a_proxy
 *     tab_proxy proxy for B's tab                tab       http://127.0.0.1/other-tab.html (a second tab)
 *     BroadcastChannel "news" in a               BroadcastChannel "news" in tab
 *
 * A publish does not wait for the other side, so `send` is fire-and-forget: it PUBLISHes the
 * record and returns PM_OK, and the targetOrigin check happens later, in the receiving process
 * (its drop handler sees a mismatch). The local windows are QUEUED (the HTML standard's model):
 * a record that arrives is passed to pm_remote_deliver, which queues it, and the event loop
 * then runs the window's queue. Broadcast records go through pm_set_broadcast_forwarder.
 *
 * The scenario: A posts "Hello World" once with the wrong targetOrigin (dropped in B) and once
 * right; B's iframe replies "Hello"; A then posts "news from A" on its BroadcastChannel, which
 * reaches B's tab (same origin, other process), and the tab answers "ack" on the channel.
 * Each side exits 0 when it saw its part, non-zero on any failure or after a timeout.
 *
 * Build: cc -std=c11 -Iinclude c-examples/redis/remote_redis.c -Ltarget/release -lpostmessage -lhiredis
 */
#define _DEFAULT_SOURCE /* nanosleep, struct timeval */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "postmessage.h"

#define URL_A "http://127.0.0.1/index.html"
#define URL_B "http://localhost/frame.html"
#define URL_TAB "http://127.0.0.1/other-tab.html"
#define TIMEOUT_S 30 /* for the peer to subscribe, and for each message */

static char me; /* 'A' or 'B' */
static int failures;

static void expect(int ok, const char *what) {
  if (!ok) {
    failures++;
    printf("[%c]  !! unexpected: %s\n", me, what);
  }
}

static int data_is(const pm_message_event *event, const char *text) {
  return event->data_len == strlen(text) && memcmp(event->data, text, event->data_len) == 0;
}

/* ------------------------------------------------------------------ the Redis side */

typedef struct {
  redisContext *pub; /* PUBLISH, PUBSUB */
  redisContext *sub; /* SUBSCRIBEd: only reads messages */
  char peer_channel[256], broadcast_channel[256], own_channel[256];
} link;

static link net;

/* PUBLISH channel (tag byte, if any) record; 0 on success. */
static int publish(const char *channel, char tag, const uint8_t *record, size_t len) {
  uint8_t *buf = malloc(len + 1);
  if (buf == NULL) return -1;
  size_t n = 0;
  if (tag) buf[n++] = (uint8_t)tag;
  memcpy(buf + n, record, len);
  redisReply *r = redisCommand(net.pub, "PUBLISH %s %b", channel, buf, n + len);
  free(buf);
  int ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
  if (!ok) printf("[%c]  !! PUBLISH failed: %s\n", me, r ? r->str : net.pub->errstr);
  freeReplyObject(r);
  return ok ? 0 : -1;
}

/* A proxy's send: fire-and-forget. The record is valid only during the call; hiredis copies it
 * into its output buffer, and it is on the wire when redisCommand returns. */
static pm_result send_record(pm_window *proxy, const uint8_t *record, size_t len, void *user_data) {
  (void)proxy;
  (void)user_data;
  return publish(net.peer_channel, 0, record, len) == 0 ? PM_OK : PM_ERR_INVALID_HANDLE;
}

/* The broadcast forwarder: every process subscribes to the broadcast channel, this one too, so
 * the record is tagged with its sender, which skips its own. */
static pm_result forward_broadcast(const uint8_t *record, size_t len, void *user_data) {
  (void)user_data;
  return publish(net.broadcast_channel, me, record, len) == 0 ? PM_OK : PM_ERR_INVALID_HANDLE;
}

static int connect_redis(const char *host, int port, const char *prefix) {
  struct timeval tv = {TIMEOUT_S, 0};
  net.pub = redisConnectWithTimeout(host, port, tv);
  net.sub = redisConnectWithTimeout(host, port, tv);
  for (int i = 0; i < 2; i++) {
    redisContext *c = i ? net.sub : net.pub;
    if (c == NULL || c->err) {
      printf("[%c]  cannot connect to Redis at %s:%d: %s\n", me, host, port, c ? c->errstr : "out of memory");
      return -1;
    }
    redisSetTimeout(c, tv);
  }
  char peer = me == 'A' ? 'B' : 'A';
  snprintf(net.own_channel, sizeof net.own_channel, "%s:%c", prefix, me);
  snprintf(net.peer_channel, sizeof net.peer_channel, "%s:%c", prefix, peer);
  snprintf(net.broadcast_channel, sizeof net.broadcast_channel, "%s:broadcast", prefix);
  /* broadcast first: once the peer sees our own channel subscribed, both are */
  redisReply *r = redisCommand(net.sub, "SUBSCRIBE %s %s", net.broadcast_channel, net.own_channel);
  int subscribed = r != NULL; /* r: the first confirmation; the second follows */
  freeReplyObject(r);
  r = NULL;
  if (!subscribed || redisGetReply(net.sub, (void **)&r) != REDIS_OK) {
    printf("[%c]  SUBSCRIBE failed: %s\n", me, net.sub->errstr);
    return -1;
  }
  freeReplyObject(r);

  /* Pub/sub drops what nobody listens to: wait until the peer has subscribed. */
  for (int tries = 0; tries < TIMEOUT_S * 50; tries++) {
    r = redisCommand(net.pub, "PUBSUB NUMSUB %s", net.peer_channel);
    long long subscribers = -1;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_INTEGER)
      subscribers = r->element[1]->integer;
    freeReplyObject(r);
    if (subscribers < 0) {
      printf("[%c]  PUBSUB NUMSUB failed: %s\n", me, net.pub->errstr);
      return -1;
    }
    if (subscribers > 0) return 0;
    if (tries == 0) printf("[%c]  waiting for process %c to subscribe to %s...\n", me, peer, net.peer_channel);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  printf("[%c]  process %c did not subscribe within %d s\n", me, peer, TIMEOUT_S);
  return -1;
}

/* ------------------------------------------------------------------ the documents */

typedef struct {
  pm_window *windows[3]; /* local windows, run after each delivery */
  int nwindows;
  pm_window *proxy;     /* the peer's window proxy: the origin lock of window records */
  pm_window *bc_source; /* the origin lock of the peer's broadcasts */
  int done;
  /* A */
  int got_hello, got_ack;
  /* B */
  int got_hello_world, got_news, drops;
  pm_result reply_result;
  pm_broadcast *news;
} process_state;

static process_state st;

static void a_on_message(const pm_message_event *e, void *ud) {
  (void)ud;
  printf("[A]    page got \"%.*s\" from origin %s\n", (int)e->data_len, (const char *)e->data, e->origin);
  if (strcmp(e->origin, "http://localhost") == 0 && data_is(e, "Hello")) {
    st.got_hello++;
    printf("[A]    page posts \"news from A\" on BroadcastChannel \"news\"\n");
    expect(pm_broadcast_post_message(st.news, (const uint8_t *)"news from A", 11) == PM_OK,
           "the broadcast post should return PM_OK");
  }
}

static void a_on_news(const pm_message_event *e, void *ud) {
  (void)ud;
  printf("[A]    channel \"news\" got \"%.*s\" from origin %s\n", (int)e->data_len, (const char *)e->data, e->origin);
  if (data_is(e, "ack")) {
    st.got_ack++;
    st.done = 1;
  }
}

static void b_on_message(const pm_message_event *e, void *ud) {
  (void)ud;
  printf("[B]    iframe got \"%.*s\" from origin %s\n", (int)e->data_len, (const char *)e->data, e->origin);
  if (strcmp(e->origin, "http://127.0.0.1") == 0 && data_is(e, "Hello World")) {
    st.got_hello_world++;
    st.reply_result = pm_post_message(e->target, e->source, (const uint8_t *)"Hello", 5, e->origin);
  }
}

static void b_on_news(const pm_message_event *e, void *ud) {
  (void)ud;
  printf("[B]    other tab's channel \"news\" got \"%.*s\" from origin %s\n", (int)e->data_len,
         (const char *)e->data, e->origin);
  if (data_is(e, "news from A")) {
    st.got_news++;
    expect(pm_broadcast_post_message(st.news, (const uint8_t *)"ack", 3) == PM_OK, "the ack should return PM_OK");
    st.done = 1;
  }
}

static void b_on_drop(const pm_drop_event *e, void *ud) {
  (void)ud;
  st.drops++;
  printf("[B]    dropped (reason %d): targetOrigin \"%s\" but the iframe is %s\n", (int)e->reason,
         e->requested_origin, e->target_origin);
}

/* The event loop: each message from Redis is a record; deliver it, then run the queues. */
static int event_loop(void) {
  while (!st.done) {
    redisReply *r = NULL;
    if (redisGetReply(net.sub, (void **)&r) != REDIS_OK) {
      printf("[%c]  !! no message within %d s (%s)\n", me, TIMEOUT_S, net.sub->errstr);
      return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[2]->type == REDIS_REPLY_STRING) {
      const char *channel = r->element[1]->str;
      const uint8_t *payload = (const uint8_t *)r->element[2]->str;
      size_t len = r->element[2]->len;
      pm_result rc = PM_OK;
      if (strcmp(channel, net.own_channel) == 0) {
        /* window and port records; window records go to this process's document */
        rc = pm_remote_deliver(st.windows[0], st.proxy, payload, len);
      } else if (strcmp(channel, net.broadcast_channel) == 0 && len > 0 && payload[0] != (uint8_t)me) {
        rc = pm_remote_deliver(NULL, st.bc_source, payload + 1, len - 1);
      }
      if (rc != PM_OK && rc != PM_DROPPED) {
        printf("[%c]  !! pm_remote_deliver: %d (%s)\n", me, (int)rc, pm_last_error());
        failures++;
      }
    }
    freeReplyObject(r);
    for (int i = 0; i < st.nwindows; i++) pm_window_run_pending(st.windows[i], SIZE_MAX);
  }
  return 0;
}

static int run_a(void) {
  pm_window *a = pm_window_new(URL_A);
  st.proxy = pm_remote_window_new(a, URL_B, send_record, NULL, NULL);
  st.bc_source = pm_remote_window_new(NULL, URL_TAB, send_record, NULL, NULL);
  if (a == NULL || st.proxy == NULL || st.bc_source == NULL) {
    printf("[A]  creating the windows failed: %s\n", pm_last_error());
    pm_window_free(st.bc_source);
    pm_window_free(a);
    return 1;
  }
  st.windows[st.nwindows++] = a;
  expect(pm_window_set_dispatch_mode(a, PM_DISPATCH_QUEUED) == PM_OK, "QUEUED mode");
  expect(pm_add_listener(a, a_on_message, NULL) != 0, "adding A's listener");
  st.news = pm_broadcast_new(a, "news");
  expect(st.news != NULL && pm_broadcast_add_listener(st.news, a_on_news, NULL) != 0, "A's channel");

  printf("[A]  postMessage(\"Hello World\", \"https://localhost\") to the proxy (wrong targetOrigin)\n");
  pm_result rc = pm_post_message(a, st.proxy, (const uint8_t *)"Hello World", 11, "https://localhost");
  expect(rc == PM_OK, "a fire-and-forget post returns PM_OK (the drop happens in B)");
  printf("[A]  postMessage(\"Hello World\", \"http://localhost\") to the proxy\n");
  rc = pm_post_message(a, st.proxy, (const uint8_t *)"Hello World", 11, "http://localhost");
  expect(rc == PM_OK, "the post should return PM_OK");

  if (event_loop() != 0) failures++;
  expect(st.got_hello == 1, "A should get \"Hello\" once");
  expect(st.got_ack == 1, "A's channel should get B's \"ack\"");
  pm_window_free(st.bc_source);
  pm_window_free(a); /* the proxy for b too */
  return failures ? 1 : 0;
}

static int run_b(void) {
  pm_set_drop_handler(b_on_drop, NULL);
  st.proxy = pm_remote_window_new(NULL, URL_A, send_record, NULL, NULL);
  st.bc_source = st.proxy; /* A's broadcasts come from a, whose origin the proxy has */
  pm_window *b = st.proxy ? pm_window_new_child(st.proxy, URL_B) : NULL;
  pm_window *tab = pm_window_new(URL_TAB);
  if (b == NULL || tab == NULL) {
    printf("[B]  creating the windows failed: %s\n", pm_last_error());
    pm_window_free(st.proxy);
    pm_window_free(tab);
    return 1;
  }
  st.windows[st.nwindows++] = b;
  st.windows[st.nwindows++] = tab;
  st.reply_result = PM_ERR_PANIC;
  expect(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED) == PM_OK, "QUEUED mode");
  expect(pm_window_set_dispatch_mode(tab, PM_DISPATCH_QUEUED) == PM_OK, "QUEUED mode");
  expect(pm_add_listener(b, b_on_message, NULL) != 0, "adding B's listener");
  st.news = pm_broadcast_new(tab, "news");
  expect(st.news != NULL && pm_broadcast_add_listener(st.news, b_on_news, NULL) != 0, "B's channel");

  if (event_loop() != 0) failures++;
  expect(st.drops == 1, "B should drop the post with the wrong targetOrigin");
  expect(st.got_hello_world == 1 && st.reply_result == PM_OK, "B should get \"Hello World\" once and reply");
  expect(st.got_news == 1, "B's tab should get \"news from A\"");
  pm_set_drop_handler(NULL, NULL);
  pm_window_free(tab);
  pm_window_free(st.proxy); /* b too */
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2 || (strcmp(argv[1], "A") != 0 && strcmp(argv[1], "B") != 0) || argc > 5) {
    fprintf(stderr, "usage: %s A|B [REDIS_HOST [REDIS_PORT [CHANNEL_PREFIX]]]\n", argv[0]);
    return 2;
  }
  me = argv[1][0];
  const char *host = argc > 2 ? argv[2] : "127.0.0.1";
  int port = argc > 3 ? atoi(argv[3]) : 6379;
  const char *prefix = argc > 4 ? argv[4] : "postmessage-demo";
  printf("[%c]  postmessage %s, Redis at %s:%d, channels %s:*\n", me, pm_version(), host, port, prefix);

  int status = 1;
  if (connect_redis(host, port, prefix) == 0) {
    pm_set_broadcast_forwarder(forward_broadcast, NULL);
    status = me == 'A' ? run_a() : run_b();
    pm_set_broadcast_forwarder(NULL, NULL);
  }
  if (net.pub) redisFree(net.pub);
  if (net.sub) redisFree(net.sub);
  printf("[%c]  %s\n", me, status == 0 ? "OK" : "FAILED");
  return status;
}
