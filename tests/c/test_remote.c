/* Remote windows (API.md "Remote windows"): proxies, posting through send, pm_remote_deliver,
 * the origin lock, stale proxies, proxy restrictions, destroy timing, parent/child with
 * proxies, ports and broadcast across, and malformed records.
 *
 * Two "processes" share this one: side A (http://127.0.0.1) holds window a and proxy pb for
 * B's document; side B (http://localhost) holds window b and proxy pa for A's. Each proxy's
 * send is a synchronous IPC that calls pm_remote_deliver on the other side and returns its
 * result, as an embedder with a blocking pipe would. (c-examples/remote_seed.c does the same
 * over a socketpair between two real processes.) */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>

#include "check.h"

/* ---------------------------------------------------------------- the two sides */

static pm_window *a, *b;   /* local windows of side A and side B */
static pm_window *pa, *pb; /* B's proxy for a, A's proxy for b */

/* A captured record (the last one any send or the forwarder saw). */
static uint8_t captured[4096];
static size_t captured_len;
static int sends;
static int in_send;

static void capture(const uint8_t *record, size_t len) {
  if (len <= sizeof captured) {
    memcpy(captured, record, len);
    captured_len = len;
  }
}

/* pb's send: carries A's records to side B, where pa is the proxy for the sender. */
static pm_result send_to_b(pm_window *proxy, const uint8_t *record, size_t len, void *user_data) {
  (void)user_data;
  CHECK(proxy == pb);
  sends++;
  capture(record, len);
  in_send++;
  pm_result rc = pm_remote_deliver(b, pa, record, len);
  in_send--;
  return rc;
}

/* pa's send: carries B's records to side A. */
static pm_result send_to_a(pm_window *proxy, const uint8_t *record, size_t len, void *user_data) {
  (void)user_data;
  CHECK(proxy == pa);
  sends++;
  capture(record, len);
  in_send++;
  pm_result rc = pm_remote_deliver(a, pb, record, len);
  in_send--;
  return rc;
}

/* A send that only records (fire-and-forget) and returns a chosen result. */
static int fixed_result = PM_OK;
static pm_result send_fixed(pm_window *proxy, const uint8_t *record, size_t len, void *user_data) {
  (void)proxy;
  (void)user_data;
  sends++;
  capture(record, len);
  return (pm_result)fixed_result;
}

static int destroyed;
static int destroyed_during_send;
static void count_destroy(void *user_data) {
  (void)user_data;
  destroyed++;
  if (in_send) destroyed_during_send++;
}

/* ---------------------------------------------------------------- listeners */

typedef struct {
  int count;
  char last[256];
  char origin[256];
  pm_window *source;
  pm_window *target;
  size_t ports_len;
  pm_port *port;
} seen;

static void record_event(const pm_message_event *e, seen *s) {
  s->count++;
  size_t n = e->data_len < sizeof s->last - 1 ? e->data_len : sizeof s->last - 1;
  memcpy(s->last, e->data, n);
  s->last[n] = '\0';
  snprintf(s->origin, sizeof s->origin, "%s", e->origin);
  s->source = e->source;
  s->target = e->target;
  s->ports_len = e->ports_len;
  s->port = e->ports_len ? e->ports[0] : NULL;
}

static seen at_a, at_b;

static void on_a(const pm_message_event *e, void *user_data) {
  (void)user_data;
  record_event(e, &at_a);
}

/* B's listener: the seed's reply, back through the event's source (a proxy). */
static int reply_rc = -1;
static void on_b_reply(const pm_message_event *e, void *user_data) {
  (void)user_data;
  record_event(e, &at_b);
  reply_rc = pm_post_message(e->target, e->source, (const uint8_t *)"Hello", 5, "http://127.0.0.1");
}

static void on_b(const pm_message_event *e, void *user_data) {
  (void)user_data;
  record_event(e, &at_b);
}

static seen port_at_a, port_at_b;
static void on_port_a(const pm_message_event *e, void *user_data) {
  (void)user_data;
  record_event(e, &port_at_a);
}
static void on_port_b(const pm_message_event *e, void *user_data) {
  (void)user_data;
  record_event(e, &port_at_b);
}

static void setup(void) {
  a = pm_window_new("http://127.0.0.1/");
  b = pm_window_new("http://localhost/");
  pb = pm_remote_window_new(NULL, "http://localhost/", send_to_b, NULL, NULL);
  pa = pm_remote_window_new(NULL, "http://127.0.0.1/", send_to_a, NULL, NULL);
  REQUIRE(a && b && pa && pb);
  memset(&at_a, 0, sizeof at_a);
  memset(&at_b, 0, sizeof at_b);
}

static void teardown(void) {
  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
  CHECK_RC(pm_window_free(pa), PM_OK);
  CHECK_RC(pm_window_free(pb), PM_OK);
}

/* ---------------------------------------------------------------- tests */

/* The seed across processes: A posts "Hello World" to B's proxy; B's listener replies through
 * the event's source; both listeners ran before the post returns. */
static void test_seed_across(void) {
  setup();
  CHECK(pm_add_listener(a, on_a, NULL) != 0);
  CHECK(pm_add_listener(b, on_b_reply, NULL) != 0);
  CHECK_RC(pm_test_post(a, pb, "Hello World", "http://localhost"), PM_OK);
  CHECK(at_b.count == 1);
  CHECK_STR(at_b.last, "Hello World");
  CHECK_STR(at_b.origin, "http://127.0.0.1");
  CHECK(at_b.source == pa);
  CHECK(at_b.target == b);
  CHECK_RC(reply_rc, PM_OK);
  CHECK(at_a.count == 1);
  CHECK_STR(at_a.last, "Hello");
  CHECK_STR(at_a.origin, "http://localhost");
  CHECK(at_a.source == pb);
  CHECK(at_a.target == a);
  /* "*" and "/" (resolved to the source's origin now: a mismatch at B). */
  CHECK_RC(pm_test_post(a, pb, "star", "*"), PM_OK);
  CHECK_RC(pm_test_post(a, pb, "slash", "/"), PM_DROPPED);
  CHECK(at_b.count == 2);
  /* A mismatch is decided at B and comes back as the post's result. */
  CHECK_RC(pm_test_post(a, pb, "evil", "http://evil.example"), PM_DROPPED);
  CHECK(at_b.count == 2);
  /* targetOrigin syntax is checked here, before anything is sent. */
  int before = sends;
  CHECK_RC(pm_test_post(a, pb, "x", "not a url"), PM_ERR_SYNTAX);
  CHECK(sends == before);
  teardown();
}

/* The remote document navigated but A's proxy still has the old origin: a message meant for
 * the old origin is dropped there; after the proxy mirrors the navigation, "/" etc. follow. */
static void test_stale_proxy(void) {
  setup();
  CHECK_RC(pm_window_navigate(b, "https://other.example/"), PM_OK);
  CHECK(pm_add_listener(b, on_b, NULL) != 0);
  CHECK_STR(pm_test_origin(pb), "http://localhost");
  CHECK_RC(pm_test_post(a, pb, "for localhost", "http://localhost"), PM_DROPPED);
  CHECK(at_b.count == 0);
  CHECK_RC(pm_window_navigate(pb, "https://other.example/x"), PM_OK);
  CHECK_STR(pm_test_origin(pb), "https://other.example");
  CHECK_RC(pm_test_post(a, pb, "for other", "https://other.example"), PM_OK);
  CHECK(at_b.count == 1);
  CHECK_STR(at_b.last, "for other");
  teardown();
}

/* Forged origins: a record claiming another sender origin than the source proxy's current one
 * is PM_ERR_SOURCE_ORIGIN; with source NULL the claim is trusted. */
static void test_origin_lock(void) {
  setup();
  CHECK(pm_add_listener(b, on_b, NULL) != 0);
  /* A record from an "evil" sender, captured through a recording proxy. */
  pm_window *evil = pm_window_new("http://evil.example/");
  pm_window *rec = pm_remote_window_new(NULL, "http://localhost/", send_fixed, NULL, NULL);
  fixed_result = PM_OK;
  CHECK_RC(pm_test_post(evil, rec, "forged", "*"), PM_OK);
  uint8_t forged[256];
  size_t forged_len = captured_len;
  memcpy(forged, captured, forged_len);
  CHECK_RC(pm_remote_deliver(b, pa, forged, forged_len), PM_ERR_SOURCE_ORIGIN);
  CHECK_HAS_ERROR();
  CHECK(at_b.count == 0);
  CHECK_RC(pm_remote_deliver(b, NULL, forged, forged_len), PM_OK);
  CHECK(at_b.count == 1);
  CHECK_STR(at_b.origin, "http://evil.example");
  CHECK(at_b.source == NULL);
  /* The lock follows the source's current origin: navigate pa, then the old claim fails. */
  CHECK_RC(pm_test_post(a, rec, "genuine", "*"), PM_OK);
  memcpy(forged, captured, captured_len);
  forged_len = captured_len;
  CHECK_RC(pm_remote_deliver(b, pa, forged, forged_len), PM_OK);
  CHECK_RC(pm_window_navigate(pa, "http://127.0.0.2/"), PM_OK);
  CHECK_RC(pm_remote_deliver(b, pa, forged, forged_len), PM_ERR_SOURCE_ORIGIN);
  /* Opaque origins never match across processes, except through "*". */
  pm_window *opaque = pm_window_new("data:text/html,x");
  CHECK_RC(pm_test_post(opaque, rec, "o", "/"), PM_OK);
  memcpy(forged, captured, captured_len);
  forged_len = captured_len;
  pm_window *opaque_b = pm_window_new("data:text/html,y");
  CHECK(pm_add_listener(opaque_b, on_b, NULL) != 0);
  CHECK_RC(pm_remote_deliver(opaque_b, NULL, forged, forged_len), PM_DROPPED);
  CHECK_RC(pm_test_post(opaque, rec, "o", "*"), PM_OK);
  CHECK_RC(pm_remote_deliver(opaque_b, NULL, captured, captured_len), PM_OK);
  CHECK_STR(at_b.origin, "null");
  pm_window_free(opaque);
  pm_window_free(opaque_b);
  pm_window_free(evil);
  pm_window_free(rec);
  teardown();
}

/* Malformed records: every truncation, trailing bytes, other versions and kinds, oversized
 * lengths, garbage; nothing is delivered. */
static void test_malformed(void) {
  setup();
  CHECK(pm_add_listener(b, on_b, NULL) != 0);
  pm_window *rec = pm_remote_window_new(NULL, "http://localhost/", send_fixed, NULL, NULL);
  fixed_result = PM_OK;
  CHECK_RC(pm_test_post(a, rec, "Hello World", "http://localhost"), PM_OK);
  uint8_t good[256];
  size_t good_len = captured_len;
  memcpy(good, captured, good_len);
  for (size_t len = 0; len < good_len; len++)
    CHECK_RC(pm_remote_deliver(b, pa, len ? good : (const uint8_t *)"", len),
             PM_ERR_INVALID_ARGUMENT);
  uint8_t bad[300];
  memcpy(bad, good, good_len);
  bad[good_len] = 0;
  CHECK_RC(pm_remote_deliver(b, pa, bad, good_len + 1), PM_ERR_INVALID_ARGUMENT);
  memcpy(bad, good, good_len);
  bad[2] = 2; /* version */
  CHECK_RC(pm_remote_deliver(b, pa, bad, good_len), PM_ERR_INVALID_ARGUMENT);
  memcpy(bad, good, good_len);
  bad[3] = 9; /* kind */
  CHECK_RC(pm_remote_deliver(b, pa, bad, good_len), PM_ERR_INVALID_ARGUMENT);
  memcpy(bad, good, good_len);
  bad[good_len - 11 - 1] = 0x7f; /* the data length's top byte: far past the bound */
  CHECK_RC(pm_remote_deliver(b, pa, bad, good_len), PM_ERR_INVALID_ARGUMENT);
  memcpy(bad, good, good_len);
  bad[4] = 0xff; /* the origin length's low byte: longer than the record */
  CHECK_RC(pm_remote_deliver(b, pa, bad, good_len), PM_ERR_INVALID_ARGUMENT);
  memcpy(bad, good, good_len);
  bad[6] = 0xff; /* the origin is no longer UTF-8 */
  CHECK_RC(pm_remote_deliver(b, pa, bad, good_len), PM_ERR_INVALID_ARGUMENT);
  memcpy(bad, good, good_len);
  bad[10] = 'X'; /* "httX://127.0.0.1": not an origin's serialization */
  CHECK_RC(pm_remote_deliver(b, NULL, bad, good_len), PM_ERR_INVALID_ARGUMENT);
  for (size_t i = 0; i < sizeof bad; i++) bad[i] = (uint8_t)(i * 37 + 11);
  CHECK_RC(pm_remote_deliver(b, pa, bad, sizeof bad), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(pm_remote_deliver(b, pa, NULL, 5), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_remote_deliver(b, pa, NULL, 0), PM_ERR_INVALID_ARGUMENT);
  CHECK(at_b.count == 0);
  /* Bad windows: a NULL or proxy target, a freed source. */
  CHECK_RC(pm_remote_deliver(NULL, pa, good, good_len), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(pm_remote_deliver(pb, pa, good, good_len), PM_ERR_INVALID_ARGUMENT);
  pm_window *gone = pm_window_new("http://127.0.0.1/");
  pm_window_free(gone);
  CHECK_RC(pm_remote_deliver(b, gone, good, good_len), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_remote_deliver(gone, pa, good, good_len), PM_ERR_INVALID_HANDLE);
  CHECK(at_b.count == 0);
  CHECK_RC(pm_remote_deliver(b, pa, good, good_len), PM_OK);
  CHECK(at_b.count == 1);
  /* A port record for a port nobody has: dropped. */
  const uint8_t unknown_port[] = {'P', 'M', 1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 1, 0, 0, 0, 'x'};
  CHECK_RC(pm_remote_deliver(NULL, NULL, unknown_port, sizeof unknown_port), PM_DROPPED);
  const uint8_t unknown_close[] = {'P', 'M', 1, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1};
  CHECK_RC(pm_remote_deliver(NULL, NULL, unknown_close, sizeof unknown_close), PM_DROPPED);
  /* A window record carrying ports needs a source proxy (their route). */
  const uint8_t with_port[] = {'P', 'M', 1, 1, 1, 0, '*', 1, 0, '*', 1, 9, 9, 9, 9, 9, 9, 9, 9,
                               0, 0, 0, 0};
  CHECK_RC(pm_remote_deliver(b, NULL, with_port, sizeof with_port), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(pm_remote_deliver(b, b, with_port, sizeof with_port), PM_ERR_INVALID_ARGUMENT);
  pm_window_free(rec);
  teardown();
}

/* What a proxy refuses: it runs no script here. */
static void test_proxy_restrictions(void) {
  setup();
  CHECK(pm_add_listener(pb, on_b, NULL) == 0);
  CHECK_RC(pm_last_error_code(), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(pm_test_post(pb, a, "from a proxy", "*"), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(pm_test_post(pb, pa, "proxy to proxy", "*"), PM_ERR_INVALID_ARGUMENT);
  pm_port *p1 = NULL, *p2 = NULL;
  CHECK_RC(pm_channel_new(pb, &p1, &p2), PM_ERR_INVALID_ARGUMENT);
  CHECK(pm_broadcast_new(pb, "c") == NULL);
  CHECK_RC(pm_last_error_code(), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(pm_window_set_dispatch_mode(pb, PM_DISPATCH_QUEUED), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(pm_window_set_waker(pb, NULL, NULL), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(pm_window_set_queue_limit(pb, 1, 1), PM_ERR_INVALID_ARGUMENT);
  CHECK(pm_window_pending(pb) == 0);
  CHECK(pm_window_run_pending(pb, 10) == 0);
  /* Creation errors: NULL url or send, bad parent, bad URL. */
  CHECK(pm_remote_window_new(NULL, NULL, send_fixed, NULL, count_destroy) == NULL);
  CHECK_RC(pm_last_error_code(), PM_ERR_NULL_ARGUMENT);
  CHECK(pm_remote_window_new(NULL, "http://x/", NULL, NULL, count_destroy) == NULL);
  CHECK_RC(pm_last_error_code(), PM_ERR_NULL_ARGUMENT);
  CHECK(pm_remote_window_new(NULL, "not a url", send_fixed, NULL, count_destroy) == NULL);
  CHECK_RC(pm_last_error_code(), PM_ERR_INVALID_URL);
  CHECK(pm_remote_window_new((pm_window *)(uintptr_t)0xdead, "http://x/", send_fixed, NULL,
                             count_destroy) == NULL);
  CHECK_RC(pm_last_error_code(), PM_ERR_INVALID_HANDLE);
  CHECK(destroyed == 0); /* failed creations do not call destroy */
  /* send's result is the post's: error codes as they are, non-results refused. */
  pm_window *rec = pm_remote_window_new(NULL, "http://localhost/", send_fixed, NULL, NULL);
  fixed_result = PM_ERR_QUEUE_FULL;
  CHECK_RC(pm_test_post(a, rec, "x", "*"), PM_ERR_QUEUE_FULL);
  CHECK_HAS_ERROR();
  fixed_result = PM_DROPPED;
  CHECK_RC(pm_test_post(a, rec, "x", "*"), PM_DROPPED);
  fixed_result = 99;
  CHECK_RC(pm_test_post(a, rec, "x", "*"), PM_ERR_INVALID_ARGUMENT);
  fixed_result = PM_OK;
  pm_window_free(rec);
  teardown();
}

/* destroy runs once, after the last send call on the proxy returned; proxies in the frame
 * tree (children of local windows and of proxies) are freed with their parent. */
static pm_window *self_freeing;
static pm_result send_and_free_self(pm_window *proxy, const uint8_t *record, size_t len,
                                    void *user_data) {
  (void)record;
  (void)len;
  (void)user_data;
  in_send++;
  CHECK(proxy == self_freeing);
  CHECK_RC(pm_window_free(proxy), PM_OK);
  CHECK(destroyed == 0); /* still inside send */
  in_send--;
  return PM_OK;
}

static void test_destroy_and_frames(void) {
  setup();
  destroyed = 0;
  destroyed_during_send = 0;
  self_freeing = pm_remote_window_new(NULL, "http://localhost/", send_and_free_self, NULL,
                                      count_destroy);
  REQUIRE(self_freeing);
  CHECK_RC(pm_test_post(a, self_freeing, "bye", "*"), PM_OK);
  CHECK(destroyed == 1);
  CHECK(destroyed_during_send == 0);
  CHECK_RC(pm_test_post(a, self_freeing, "again", "*"), PM_ERR_INVALID_HANDLE);

  /* A proxy iframe in a local page, a local iframe in a proxy, a proxy in a proxy. */
  pm_window *top = pm_window_new("http://127.0.0.1/");
  pm_window *frame = pm_remote_window_new(top, "http://localhost/", send_fixed, NULL,
                                          count_destroy);
  REQUIRE(frame);
  CHECK(pm_window_parent(frame) == top);
  pm_window *inner = pm_window_new_child(frame, "about:blank");
  REQUIRE(inner);
  CHECK(pm_window_parent(inner) == frame);
  CHECK_STR(pm_test_origin(inner), "http://localhost");
  pm_window *deeper = pm_remote_window_new(frame, "https://third.example/", send_fixed, NULL,
                                           count_destroy);
  REQUIRE(deeper);
  CHECK(pm_window_parent(deeper) == frame);
  CHECK_RC(pm_window_free(top), PM_OK);
  CHECK(destroyed == 3);
  CHECK_RC(pm_window_free(frame), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(inner), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(deeper), PM_ERR_INVALID_HANDLE);
  /* Navigating a proxy's parent frees the proxy (a new document has no old iframes). */
  pm_window *page = pm_window_new("http://127.0.0.1/");
  pm_window *child = pm_remote_window_new(page, "http://localhost/", send_fixed, NULL,
                                          count_destroy);
  REQUIRE(child);
  CHECK_RC(pm_window_navigate(page, "http://127.0.0.1/next"), PM_OK);
  CHECK(destroyed == 4);
  pm_window_free(page);
  teardown();
}

/* A MessageChannel across: p2 is transferred to B's proxy; both sides post; order is kept;
 * close crosses; the re-transfer rules; a freed route is a closed partner. */
static void test_ports_across(void) {
  setup();
  CHECK(pm_add_listener(b, on_b, NULL) != 0);
  pm_port *p1 = NULL, *p2 = NULL;
  CHECK_RC(pm_channel_new(a, &p1, &p2), PM_OK);
  /* Both ends of one channel cannot go to a proxy together; nothing is transferred then. */
  pm_port *both[2] = {p1, p2};
  CHECK_RC(pm_post_message_transfer(a, pb, (const uint8_t *)"both", 4, "*", both, 2),
           PM_ERR_DATA_CLONE);
  CHECK(at_b.count == 0);
  CHECK(pm_port_add_listener(p1, on_port_a, NULL) != 0);
  /* A message waiting in p2 before the transfer follows it. */
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"early", 5, NULL, 0), PM_OK);
  CHECK_RC(pm_post_message_transfer(a, pb, (const uint8_t *)"port", 4, "*", &p2, 1), PM_OK);
  CHECK(at_b.count == 1);
  CHECK(at_b.ports_len == 1);
  pm_port *bp = at_b.port;
  REQUIRE(bp != NULL);
  CHECK_RC(pm_port_post_message(p2, (const uint8_t *)"x", 1, NULL, 0), PM_ERR_INVALID_HANDLE);
  /* B starts its port: the early message arrives first, then the ones after it, in order. */
  CHECK(pm_port_add_listener(bp, on_port_b, NULL) != 0);
  CHECK(port_at_b.count == 1);
  CHECK_STR(port_at_b.last, "early");
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"one", 3, NULL, 0), PM_OK);
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"two", 3, NULL, 0), PM_OK);
  CHECK(port_at_b.count == 3);
  CHECK_STR(port_at_b.last, "two");
  CHECK_STR(port_at_b.origin, "");
  CHECK(port_at_b.source == NULL && port_at_b.target == NULL);
  CHECK_RC(pm_port_post_message(bp, (const uint8_t *)"back", 4, NULL, 0), PM_OK);
  CHECK(port_at_a.count == 1);
  CHECK_STR(port_at_a.last, "back");
  /* A port whose partner is in another process: to a proxy, DataCloneError; locally, fine. */
  CHECK_RC(pm_post_message_transfer(b, pa, (const uint8_t *)"re", 2, "*", &bp, 1),
           PM_ERR_DATA_CLONE);
  pm_window *b2 = pm_window_new("http://localhost/");
  seen at_b2;
  memset(&at_b2, 0, sizeof at_b2);
  memset(&at_b, 0, sizeof at_b);
  CHECK(pm_add_listener(b2, on_b, NULL) != 0);
  CHECK_RC(pm_post_message_transfer(b, b2, (const uint8_t *)"local", 5, "*", &bp, 1), PM_OK);
  pm_port *bp2 = at_b.port;
  REQUIRE(bp2 != NULL);
  CHECK(pm_port_add_listener(bp2, on_port_b, NULL) != 0);
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"three", 5, NULL, 0), PM_OK);
  CHECK_STR(port_at_b.last, "three");
  CHECK_RC(pm_port_post_message(bp2, (const uint8_t *)"back2", 5, NULL, 0), PM_OK);
  CHECK_STR(port_at_a.last, "back2");
  /* Close crosses: after B closes, A's posts are dropped. */
  CHECK_RC(pm_port_close(bp2), PM_OK);
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"late", 4, NULL, 0), PM_DROPPED);
  CHECK_RC(pm_port_close(p1), PM_OK);
  pm_window_free(b2);

  /* A freed route is a closed partner; and a record replayed for the closed port is dropped. */
  CHECK_RC(pm_channel_new(a, &p1, &p2), PM_OK);
  memset(&at_b, 0, sizeof at_b);
  CHECK_RC(pm_post_message_transfer(a, pb, (const uint8_t *)"port", 4, "*", &p2, 1), PM_OK);
  bp = at_b.port;
  REQUIRE(bp != NULL);
  CHECK(pm_port_add_listener(bp, on_port_b, NULL) != 0);
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"before", 6, NULL, 0), PM_OK);
  uint8_t port_record[64];
  size_t port_record_len = captured_len;
  memcpy(port_record, captured, captured_len);
  /* The port record is scoped to its route: from another source it is unknown. */
  CHECK_RC(pm_remote_deliver(NULL, b, port_record, port_record_len), PM_DROPPED);
  CHECK_RC(pm_remote_deliver(NULL, pa, port_record, port_record_len), PM_OK);
  CHECK_STR(port_at_b.last, "before");
  CHECK_RC(pm_window_free(pb), PM_OK);
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"after", 5, NULL, 0), PM_DROPPED);
  pb = pm_remote_window_new(NULL, "http://localhost/", send_to_b, NULL, NULL);
  /* A dropped post (mismatch at B) closes the ports it carried: A's partner sees a close. */
  pm_port *q1 = NULL, *q2 = NULL;
  CHECK_RC(pm_channel_new(a, &q1, &q2), PM_OK);
  CHECK_RC(pm_post_message_transfer(a, pb, (const uint8_t *)"nope", 4, "http://evil.example",
                                    &q2, 1),
           PM_DROPPED);
  CHECK_RC(pm_port_post_message(q1, (const uint8_t *)"x", 1, NULL, 0), PM_DROPPED);
  teardown(); /* frees p1 and q1 with a, bp with b */
}

/* BroadcastChannel across, through the forwarder. */
static seen bc_seen;
static void on_broadcast(const pm_message_event *e, void *user_data) {
  (void)user_data;
  record_event(e, &bc_seen);
}
static int forwarded;
static int forward_result = PM_OK;
static pm_result forward(const uint8_t *record, size_t len, void *user_data) {
  (void)user_data;
  forwarded++;
  capture(record, len);
  return (pm_result)forward_result;
}

static void test_broadcast_across(void) {
  setup();
  pm_broadcast *sender = pm_broadcast_new(a, "news");
  REQUIRE(sender);
  /* Without a forwarder nothing crosses. */
  CHECK_RC(pm_broadcast_post_message(sender, (const uint8_t *)"quiet", 5), PM_OK);
  CHECK(forwarded == 0);
  CHECK_RC(pm_set_broadcast_forwarder(forward, NULL), PM_OK);
  CHECK_RC(pm_broadcast_post_message(sender, (const uint8_t *)"headline", 8), PM_OK);
  CHECK(forwarded == 1);
  uint8_t record[128];
  size_t record_len = captured_len;
  memcpy(record, captured, captured_len);
  forward_result = PM_ERR_QUEUE_FULL;
  CHECK_RC(pm_broadcast_post_message(sender, (const uint8_t *)"x", 1), PM_ERR_QUEUE_FULL);
  forward_result = PM_OK;
  CHECK_RC(pm_set_broadcast_forwarder(NULL, NULL), PM_OK);
  CHECK_RC(pm_broadcast_close(sender), PM_OK);
  /* "The other process": a channel of that name in a window of the same origin gets it, one
   * of another origin or name does not. */
  pm_window *same = pm_window_new("http://127.0.0.1/page");
  pm_window *other = pm_window_new("http://localhost/");
  pm_broadcast *rx = pm_broadcast_new(same, "news");
  pm_broadcast *rx_other_origin = pm_broadcast_new(other, "news");
  pm_broadcast *rx_other_name = pm_broadcast_new(same, "sports");
  REQUIRE(rx && rx_other_origin && rx_other_name);
  CHECK(pm_broadcast_add_listener(rx, on_broadcast, NULL) != 0);
  CHECK(pm_broadcast_add_listener(rx_other_origin, on_broadcast, NULL) != 0);
  CHECK(pm_broadcast_add_listener(rx_other_name, on_broadcast, NULL) != 0);
  CHECK_RC(pm_remote_deliver(NULL, pa, record, record_len), PM_OK);
  CHECK(bc_seen.count == 1);
  CHECK_STR(bc_seen.last, "headline");
  CHECK_STR(bc_seen.origin, "http://127.0.0.1");
  /* The origin lock applies: from pb (localhost) the claim is forged. */
  CHECK_RC(pm_remote_deliver(NULL, pb, record, record_len), PM_ERR_SOURCE_ORIGIN);
  CHECK_RC(pm_remote_deliver(NULL, NULL, record, record_len), PM_OK);
  CHECK(bc_seen.count == 2);
  pm_window_free(same);
  pm_window_free(other);
  teardown();
}

/* A queued target: the record is queued and delivered by run_pending, with the source proxy
 * (or NULL) as the event's source; queue limits and drop reports as for a local post. */
static int drops;
static pm_drop_reason last_drop;
static void on_drop(const pm_drop_event *e, void *user_data) {
  (void)user_data;
  drops++;
  last_drop = e->reason;
}

static void test_queued_target(void) {
  setup();
  CHECK(pm_add_listener(b, on_b, NULL) != 0);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_test_post(a, pb, "queued", "http://localhost"), PM_OK);
  CHECK(at_b.count == 0);
  CHECK(pm_window_pending(b) == 1);
  uint8_t record[128];
  size_t record_len = captured_len;
  memcpy(record, captured, captured_len);
  CHECK_RC(pm_remote_deliver(b, NULL, record, record_len), PM_OK);
  CHECK(pm_window_run_pending(b, 1) == 1);
  CHECK(at_b.count == 1);
  CHECK(at_b.source == pa);
  CHECK(pm_window_run_pending(b, 1) == 1);
  CHECK(at_b.count == 2);
  CHECK(at_b.source == NULL);
  /* The match is at delivery, against the then-current origin. */
  CHECK_RC(pm_set_drop_handler(on_drop, NULL), PM_OK);
  CHECK_RC(pm_test_post(a, pb, "stale", "http://localhost"), PM_OK);
  CHECK_RC(pm_window_navigate(b, "http://localhost:8080/"), PM_OK);
  CHECK(drops == 1 && last_drop == PM_DROP_NAVIGATED);
  CHECK_RC(pm_window_set_queue_limit(b, 1, 1024), PM_OK);
  CHECK_RC(pm_test_post(a, pb, "fits", "*"), PM_OK);
  CHECK_RC(pm_test_post(a, pb, "full", "*"), PM_ERR_QUEUE_FULL);
  CHECK(drops == 2 && last_drop == PM_DROP_QUEUE_FULL);
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  teardown();
}

/* A send that re-enters: B's listener posts back while A's post is still inside send, and A's
 * listener posts to B again (nested), bounded by the depth limit. */
static int ping_pong_left;
static void ping_a(const pm_message_event *e, void *user_data) {
  (void)user_data;
  at_a.count++;
  if (ping_pong_left-- > 0)
    pm_post_message(e->target, e->source, (const uint8_t *)"ping", 4, "*");
}
static void ping_b(const pm_message_event *e, void *user_data) {
  (void)user_data;
  at_b.count++;
  pm_post_message(e->target, e->source, (const uint8_t *)"pong", 4, "*");
}

static void test_reentrant_send(void) {
  setup();
  CHECK(pm_add_listener(a, ping_a, NULL) != 0);
  CHECK(pm_add_listener(b, ping_b, NULL) != 0);
  ping_pong_left = 5;
  CHECK_RC(pm_test_post(a, pb, "ping", "*"), PM_OK);
  CHECK(at_b.count == 6);
  CHECK(at_a.count == 6);
  /* Forever: the depth limit stops it with an error, not a crash. */
  ping_pong_left = 1000000;
  at_a.count = at_b.count = 0;
  CHECK_RC(pm_test_post(a, pb, "ping", "*"), PM_OK);
  CHECK(at_b.count > 0 && at_b.count < 1000);
  teardown();
}

int main(void) {
  test_seed_across();
  test_stale_proxy();
  test_origin_lock();
  test_malformed();
  test_proxy_restrictions();
  test_destroy_and_frames();
  test_ports_across();
  test_broadcast_across();
  test_queued_target();
  test_reentrant_send();
  TEST_EXIT("test_remote");
}
