/* BroadcastChannel: same name and same origin, creation order, never the sender, event fields,
 * other origins and names excluded, opaque origins, closing (at once, also for messages already
 * queued), channels closed with their window, queued receivers and limits. Written against
 * /work/shared/API.md ("Channel messaging and broadcast"). */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>

#include "check.h"

/* Every receiving listener appends "<tag>:<data>;" to one shared log, so the order across
 * channels is visible. */
static char shared_log[8192];

typedef struct {
  const char *tag;
  int count;
  int bad_fields;
  char expected_origin[128];
  char last_origin[128];
} chan_rec;

static void chan_rec_init(chan_rec *r, const char *tag, const char *expected_origin) {
  memset(r, 0, sizeof *r);
  r->tag = tag;
  snprintf(r->expected_origin, sizeof r->expected_origin, "%s", expected_origin);
}

static void on_broadcast(const pm_message_event *event, void *user_data) {
  chan_rec *r = user_data;
  r->count++;
  size_t n = strlen(shared_log);
  snprintf(shared_log + n, sizeof shared_log - n, "%s:%.*s;", r->tag, (int)event->data_len,
           (const char *)event->data);
  snprintf(r->last_origin, sizeof r->last_origin, "%s", event->origin ? event->origin : "(NULL)");
  if (event->origin == NULL || strcmp(event->origin, r->expected_origin) != 0) r->bad_fields++;
  if (event->source != NULL || event->target != NULL) r->bad_fields++;
  if (event->last_event_id == NULL || strcmp(event->last_event_id, "") != 0) r->bad_fields++;
  if (event->ports_len != 0 || event->data == NULL) r->bad_fields++;
}

static pm_result bpost(pm_broadcast *c, const char *text) {
  return pm_broadcast_post_message(c, (const uint8_t *)text, strlen(text));
}

static void ignore(const pm_message_event *event, void *user_data) {
  (void)event;
  (void)user_data;
}

static int channel_is_invalid(pm_broadcast *c) {
  return pm_broadcast_post_message(c, (const uint8_t *)"x", 1) == PM_ERR_INVALID_HANDLE &&
         pm_broadcast_add_listener(c, ignore, NULL) == 0 &&
         pm_broadcast_remove_listener(c, 1) == PM_ERR_INVALID_HANDLE &&
         pm_broadcast_close(c) == PM_ERR_INVALID_HANDLE;
}

/* ---------------------------------------------------------------- who receives */

static void test_same_name_same_origin(void) {
  pm_window *a1 = pm_window_new("https://a.example/one");
  pm_window *a2 = pm_window_new("https://a.example/two?x");
  pm_window *a3 = pm_window_new("https://a.example:443/three");
  pm_window *b = pm_window_new("https://b.example/");
  pm_window *a_http = pm_window_new("http://a.example/");
  pm_window *a_port = pm_window_new("https://a.example:8443/");
  REQUIRE(a1 && a2 && a3 && b && a_http && a_port);
  pm_window *a_frame = pm_window_new_child(b, "https://a.example/framed");
  REQUIRE(a_frame);

  /* creation order: c3, c1, cb, c2, c4 (second channel in a1), cframe, ... */
  pm_broadcast *c3 = pm_broadcast_new(a3, "news");
  pm_broadcast *c1 = pm_broadcast_new(a1, "news");
  pm_broadcast *cb = pm_broadcast_new(b, "news");
  pm_broadcast *c2 = pm_broadcast_new(a2, "news");
  pm_broadcast *c4 = pm_broadcast_new(a1, "news");
  pm_broadcast *cframe = pm_broadcast_new(a_frame, "news");
  pm_broadcast *chttp = pm_broadcast_new(a_http, "news");
  pm_broadcast *cport = pm_broadcast_new(a_port, "news");
  pm_broadcast *csports = pm_broadcast_new(a2, "sports");
  pm_broadcast *ccase = pm_broadcast_new(a2, "News");
  pm_broadcast *cprefix = pm_broadcast_new(a2, "news ");
  REQUIRE(c1 && c2 && c3 && c4 && cb && cframe && chttp && cport && csports && ccase && cprefix);

  chan_rec r1, r2, r3, r4, rb, rframe, rhttp, rport, rsports, rcase, rprefix;
  chan_rec_init(&r1, "c1", "https://a.example");
  chan_rec_init(&r2, "c2", "https://a.example");
  chan_rec_init(&r3, "c3", "https://a.example");
  chan_rec_init(&r4, "c4", "https://a.example");
  chan_rec_init(&rframe, "cframe", "https://a.example");
  chan_rec_init(&rb, "cb", "-");
  chan_rec_init(&rhttp, "chttp", "-");
  chan_rec_init(&rport, "cport", "-");
  chan_rec_init(&rsports, "csports", "-");
  chan_rec_init(&rcase, "ccase", "-");
  chan_rec_init(&rprefix, "cprefix", "-");
  /* listeners added in another order than the channels were created */
  CHECK(pm_broadcast_add_listener(c4, on_broadcast, &r4) > 0);
  CHECK(pm_broadcast_add_listener(cframe, on_broadcast, &rframe) > 0);
  CHECK(pm_broadcast_add_listener(c2, on_broadcast, &r2) > 0);
  CHECK(pm_broadcast_add_listener(c1, on_broadcast, &r1) > 0);
  CHECK(pm_broadcast_add_listener(c3, on_broadcast, &r3) > 0);
  CHECK(pm_broadcast_add_listener(cb, on_broadcast, &rb) > 0);
  CHECK(pm_broadcast_add_listener(chttp, on_broadcast, &rhttp) > 0);
  CHECK(pm_broadcast_add_listener(cport, on_broadcast, &rport) > 0);
  CHECK(pm_broadcast_add_listener(csports, on_broadcast, &rsports) > 0);
  CHECK(pm_broadcast_add_listener(ccase, on_broadcast, &rcase) > 0);
  CHECK(pm_broadcast_add_listener(cprefix, on_broadcast, &rprefix) > 0);

  shared_log[0] = '\0';
  CHECK_RC(bpost(c2, "hi"), PM_OK); /* SYNC: all delivered inside the post */
  CHECK_STR(shared_log, "c3:hi;c1:hi;c4:hi;cframe:hi;");
  CHECK(r2.count == 0); /* never the sender */

  shared_log[0] = '\0';
  CHECK_RC(bpost(c1, "from c1"), PM_OK); /* c4 is in the same window: it still receives */
  CHECK_STR(shared_log, "c3:from c1;c2:from c1;c4:from c1;cframe:from c1;");

  shared_log[0] = '\0';
  CHECK_RC(bpost(cb, "b only"), PM_OK); /* the only "news" channel of https://b.example */
  CHECK_STR(shared_log, "");
  CHECK_RC(bpost(csports, "sports"), PM_OK);
  CHECK_STR(shared_log, "");

  /* binary data and zero length */
  shared_log[0] = '\0';
  CHECK_RC(pm_broadcast_post_message(c3, NULL, 0), PM_OK);
  CHECK_STR(shared_log, "c1:;c2:;c4:;cframe:;");

  CHECK(r1.bad_fields == 0 && r2.bad_fields == 0 && r3.bad_fields == 0 && r4.bad_fields == 0 &&
        rframe.bad_fields == 0);
  CHECK(rb.count == 0 && rhttp.count == 0 && rport.count == 0 && rsports.count == 0 &&
        rcase.count == 0 && rprefix.count == 0);

  /* several listeners on one channel: registration order; removal */
  chan_rec r1b;
  chan_rec_init(&r1b, "c1b", "https://a.example");
  uint64_t id1b = pm_broadcast_add_listener(c1, on_broadcast, &r1b);
  CHECK(id1b > 0);
  shared_log[0] = '\0';
  CHECK_RC(bpost(c3, "two listeners"), PM_OK);
  CHECK_STR(shared_log, "c1:two listeners;c1b:two listeners;c2:two listeners;c4:two listeners;"
                        "cframe:two listeners;");
  CHECK_RC(pm_broadcast_remove_listener(c1, id1b), PM_OK);
  CHECK_RC(pm_broadcast_remove_listener(c1, id1b), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_broadcast_remove_listener(c1, 0), PM_ERR_INVALID_HANDLE);
  shared_log[0] = '\0';
  CHECK_RC(bpost(c3, "one again"), PM_OK);
  CHECK_STR(shared_log, "c1:one again;c2:one again;c4:one again;cframe:one again;");

  /* a channel without listeners receives nothing and does not disturb */
  pm_broadcast *silent = pm_broadcast_new(a1, "news");
  REQUIRE(silent);
  shared_log[0] = '\0';
  CHECK_RC(bpost(silent, "from silent"), PM_OK);
  CHECK_STR(shared_log, "c3:from silent;c1:from silent;c2:from silent;c4:from silent;"
                        "cframe:from silent;");

  pm_broadcast *all[] = {c1, c2, c3, c4, cb, cframe, chttp, cport, csports, ccase, cprefix, silent};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) CHECK_RC(pm_broadcast_close(all[i]), PM_OK);
  pm_window *ws[] = {a1, a2, a3, b, a_http, a_port};
  for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) CHECK_RC(pm_window_free(ws[i]), PM_OK);
}

static void test_opaque_origins(void) {
  pm_window *o1 = pm_window_new("data:text/html,<p>one</p>");
  pm_window *o2 = pm_window_new("data:text/html,<p>one</p>"); /* same URL, different origin */
  REQUIRE(o1 && o2);
  pm_window *o1_blank = pm_window_new_child(o1, "about:blank"); /* inherits o1's origin */
  pm_window *blank = pm_window_new("about:blank");              /* a fresh opaque origin */
  REQUIRE(o1_blank && blank);
  CHECK_STR(pm_test_origin(o1), "null");

  pm_broadcast *c1 = pm_broadcast_new(o1, "op");
  pm_broadcast *c2 = pm_broadcast_new(o2, "op");
  pm_broadcast *c1b = pm_broadcast_new(o1_blank, "op");
  pm_broadcast *cblank = pm_broadcast_new(blank, "op");
  REQUIRE(c1 && c2 && c1b && cblank);
  chan_rec r1, r2, r1b, rblank;
  chan_rec_init(&r1, "o1", "null");
  chan_rec_init(&r2, "o2", "null");
  chan_rec_init(&r1b, "o1b", "null");
  chan_rec_init(&rblank, "blank", "null");
  CHECK(pm_broadcast_add_listener(c1, on_broadcast, &r1) > 0);
  CHECK(pm_broadcast_add_listener(c2, on_broadcast, &r2) > 0);
  CHECK(pm_broadcast_add_listener(c1b, on_broadcast, &r1b) > 0);
  CHECK(pm_broadcast_add_listener(cblank, on_broadcast, &rblank) > 0);

  shared_log[0] = '\0';
  CHECK_RC(bpost(c1, "opaque"), PM_OK);
  CHECK_STR(shared_log, "o1b:opaque;");
  shared_log[0] = '\0';
  CHECK_RC(bpost(c1b, "back"), PM_OK);
  CHECK_STR(shared_log, "o1:back;");
  shared_log[0] = '\0';
  CHECK_RC(bpost(c2, "alone"), PM_OK);
  CHECK_RC(bpost(cblank, "alone"), PM_OK);
  CHECK_STR(shared_log, "");
  CHECK(r1.bad_fields == 0 && r1b.bad_fields == 0);

  /* an opaque "null" origin is never the same as a tuple origin's channels */
  pm_window *tuple = pm_window_new("https://null/");
  REQUIRE(tuple);
  pm_broadcast *ct = pm_broadcast_new(tuple, "op");
  REQUIRE(ct);
  chan_rec rt;
  chan_rec_init(&rt, "tuple", "-");
  CHECK(pm_broadcast_add_listener(ct, on_broadcast, &rt) > 0);
  shared_log[0] = '\0';
  CHECK_RC(bpost(c1, "x"), PM_OK);
  CHECK_STR(shared_log, "o1b:x;");

  CHECK_RC(pm_broadcast_close(ct), PM_OK);
  CHECK_RC(pm_window_free(tuple), PM_OK);
  CHECK_RC(pm_window_free(o1), PM_OK); /* closes c1 and (with the child) c1b */
  CHECK(channel_is_invalid(c1));
  CHECK(channel_is_invalid(c1b));
  CHECK_RC(pm_window_free(o2), PM_OK);
  CHECK_RC(pm_window_free(blank), PM_OK);
  CHECK(channel_is_invalid(c2) && channel_is_invalid(cblank));
}

/* ---------------------------------------------------------------- closing */

static void test_close(void) {
  pm_window *w1 = pm_window_new("https://a.example/");
  pm_window *w2 = pm_window_new("https://a.example/");
  pm_window *wq = pm_window_new("https://a.example/queued");
  REQUIRE(w1 && w2 && wq);
  CHECK_RC(pm_window_set_dispatch_mode(wq, PM_DISPATCH_QUEUED), PM_OK);
  pm_broadcast *s = pm_broadcast_new(w1, "ch");
  pm_broadcast *r = pm_broadcast_new(w2, "ch");
  pm_broadcast *q = pm_broadcast_new(wq, "ch");
  pm_broadcast *q2 = pm_broadcast_new(wq, "ch");
  REQUIRE(s && r && q && q2);
  chan_rec rr, rq, rq2;
  chan_rec_init(&rr, "r", "https://a.example");
  chan_rec_init(&rq, "q", "https://a.example");
  chan_rec_init(&rq2, "q2", "https://a.example");
  CHECK(pm_broadcast_add_listener(r, on_broadcast, &rr) > 0);
  CHECK(pm_broadcast_add_listener(q, on_broadcast, &rq) > 0);
  CHECK(pm_broadcast_add_listener(q2, on_broadcast, &rq2) > 0);

  shared_log[0] = '\0';
  CHECK_RC(bpost(s, "m1"), PM_OK);
  CHECK_STR(shared_log, "r:m1;"); /* q and q2 are queued */
  CHECK(pm_window_pending(wq) == 2);
  CHECK_RC(pm_broadcast_close(q), PM_OK); /* at once: even the queued message */
  CHECK(channel_is_invalid(q));
  shared_log[0] = '\0';
  pm_window_run_pending(wq, SIZE_MAX);
  CHECK(pm_window_pending(wq) == 0);
  CHECK_STR(shared_log, "q2:m1;");
  CHECK(rq.count == 0);

  /* a closed channel receives nothing more, and a closed sender cannot post */
  CHECK_RC(pm_broadcast_close(r), PM_OK);
  shared_log[0] = '\0';
  CHECK_RC(bpost(s, "m2"), PM_OK);
  CHECK(pm_window_run_pending(wq, SIZE_MAX) == 1);
  CHECK_STR(shared_log, "q2:m2;");
  CHECK_RC(pm_broadcast_close(s), PM_OK);
  CHECK_RC(bpost(s, "m3"), PM_ERR_INVALID_HANDLE);
  CHECK_HAS_ERROR();
  CHECK(channel_is_invalid(s) && channel_is_invalid(r));

  /* closing from inside a listener, during a broadcast: later channels in the same broadcast
   * that are closed before their turn are skipped */
  CHECK_RC(pm_window_free(wq), PM_OK);
  CHECK(channel_is_invalid(q2));
  CHECK_RC(pm_window_free(w1), PM_OK);
  CHECK_RC(pm_window_free(w2), PM_OK);
}

typedef struct {
  chan_rec rec;
  pm_broadcast *to_close;
  pm_result close_rc;
} closer;

static void close_other(const pm_message_event *event, void *user_data) {
  closer *c = user_data;
  on_broadcast(event, &c->rec);
  if (c->to_close) {
    c->close_rc = pm_broadcast_close(c->to_close);
    c->to_close = NULL;
  }
}

static void test_close_during_broadcast(void) {
  pm_window *w = pm_window_new("https://a.example/");
  REQUIRE(w);
  pm_broadcast *sender = pm_broadcast_new(w, "ch");
  pm_broadcast *first = pm_broadcast_new(w, "ch");
  pm_broadcast *second = pm_broadcast_new(w, "ch");
  REQUIRE(sender && first && second);
  closer c;
  memset(&c, 0, sizeof c);
  chan_rec_init(&c.rec, "first", "https://a.example");
  c.to_close = second;
  chan_rec r2;
  chan_rec_init(&r2, "second", "https://a.example");
  CHECK(pm_broadcast_add_listener(first, close_other, &c) > 0);
  CHECK(pm_broadcast_add_listener(second, on_broadcast, &r2) > 0);
  shared_log[0] = '\0';
  CHECK_RC(bpost(sender, "x"), PM_OK);
  CHECK_RC(c.close_rc, PM_OK);
  CHECK_STR(shared_log, "first:x;"); /* second was closed before its turn */
  CHECK(r2.count == 0);
  CHECK_RC(pm_broadcast_close(sender), PM_OK);
  CHECK_RC(pm_broadcast_close(first), PM_OK);
  CHECK_RC(pm_window_free(w), PM_OK);
}

static void test_closed_with_window(void) {
  pm_window *keep = pm_window_new("https://a.example/keep");
  pm_window *nav = pm_window_new("https://a.example/nav");
  pm_window *freed = pm_window_new("https://a.example/freed");
  REQUIRE(keep && nav && freed);
  pm_window *child = pm_window_new_child(keep, "https://a.example/child");
  REQUIRE(child);
  pm_broadcast *ck = pm_broadcast_new(keep, "life");
  pm_broadcast *cn = pm_broadcast_new(nav, "life");
  pm_broadcast *cf = pm_broadcast_new(freed, "life");
  pm_broadcast *cc = pm_broadcast_new(child, "life");
  REQUIRE(ck && cn && cf && cc);
  chan_rec rn, rf, rc;
  chan_rec_init(&rn, "nav", "https://a.example");
  chan_rec_init(&rf, "freed", "https://a.example");
  chan_rec_init(&rc, "child", "https://a.example");
  CHECK(pm_broadcast_add_listener(cn, on_broadcast, &rn) > 0);
  CHECK(pm_broadcast_add_listener(cf, on_broadcast, &rf) > 0);
  CHECK(pm_broadcast_add_listener(cc, on_broadcast, &rc) > 0);

  shared_log[0] = '\0';
  CHECK_RC(bpost(ck, "1"), PM_OK);
  CHECK_STR(shared_log, "nav:1;freed:1;child:1;");

  /* navigating (even to the same origin) closes the old document's channels */
  CHECK_RC(pm_window_navigate(nav, "https://a.example/nav2"), PM_OK);
  CHECK(channel_is_invalid(cn));
  CHECK_RC(pm_window_free(freed), PM_OK);
  CHECK(channel_is_invalid(cf));
  CHECK_RC(pm_window_free(child), PM_OK);
  CHECK(channel_is_invalid(cc));
  shared_log[0] = '\0';
  CHECK_RC(bpost(ck, "2"), PM_OK);
  CHECK_STR(shared_log, "");

  /* the navigated window's new document can open the name again */
  pm_broadcast *cn2 = pm_broadcast_new(nav, "life");
  REQUIRE(cn2);
  chan_rec rn2;
  chan_rec_init(&rn2, "nav2", "https://a.example");
  CHECK(pm_broadcast_add_listener(cn2, on_broadcast, &rn2) > 0);
  CHECK_RC(bpost(ck, "3"), PM_OK);
  CHECK_STR(shared_log, "nav2:3;");

  /* a parent's navigation closes its child's channels too */
  pm_window *child2 = pm_window_new_child(keep, "https://a.example/child2");
  REQUIRE(child2);
  pm_broadcast *cc2 = pm_broadcast_new(child2, "life");
  REQUIRE(cc2);
  CHECK_RC(pm_window_navigate(keep, "https://a.example/keep2"), PM_OK);
  CHECK(channel_is_invalid(ck));
  CHECK(channel_is_invalid(cc2));

  CHECK_RC(pm_window_free(keep), PM_OK);
  CHECK_RC(pm_window_free(nav), PM_OK);
  CHECK(channel_is_invalid(cn2));
}

/* ---------------------------------------------------------------- arguments */

static void test_bad_arguments(void) {
  pm_window *w = pm_window_new("https://a.example/");
  REQUIRE(w);
  CHECK(pm_broadcast_new(NULL, "x") == NULL);
  CHECK_HAS_ERROR();
  CHECK(pm_broadcast_new(w, NULL) == NULL);
  CHECK_HAS_ERROR();
  CHECK(pm_broadcast_new(w, "\xc3\x28") == NULL);
  CHECK_HAS_ERROR();
  pm_window *gone = pm_window_new("https://gone.example/");
  REQUIRE(gone);
  CHECK_RC(pm_window_free(gone), PM_OK);
  CHECK(pm_broadcast_new(gone, "x") == NULL);
  CHECK_HAS_ERROR();

  CHECK_RC(pm_broadcast_post_message(NULL, NULL, 0), PM_ERR_NULL_ARGUMENT);
  CHECK(pm_broadcast_add_listener(NULL, ignore, NULL) == 0);
  CHECK_RC(pm_broadcast_remove_listener(NULL, 1), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_broadcast_close(NULL), PM_OK); /* destructors: NULL is a no-op */
  CHECK(channel_is_invalid((pm_broadcast *)(uintptr_t)0x5550u));

  pm_broadcast *c = pm_broadcast_new(w, ""); /* the empty name is a name */
  REQUIRE(c);
  CHECK(pm_broadcast_add_listener(c, NULL, NULL) == 0);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_broadcast_post_message(c, NULL, 3), PM_ERR_NULL_ARGUMENT);
  pm_broadcast *c_other = pm_broadcast_new(w, "");
  REQUIRE(c_other);
  chan_rec r;
  chan_rec_init(&r, "empty", "https://a.example");
  CHECK(pm_broadcast_add_listener(c_other, on_broadcast, &r) > 0);
  shared_log[0] = '\0';
  CHECK_RC(bpost(c, "e"), PM_OK);
  CHECK_STR(shared_log, "empty:e;");
  CHECK_RC(pm_broadcast_close(c), PM_OK);
  CHECK_RC(pm_broadcast_close(c), PM_ERR_INVALID_HANDLE);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK(channel_is_invalid(c_other));
}

/* ---------------------------------------------------------------- queued receivers */

typedef struct {
  int calls;
  pm_window *window;
} wake_count;

static void count_wake(pm_window *window, void *user_data) {
  wake_count *w = user_data;
  w->calls++;
  w->window = window;
}

static void test_queued_receivers(void) {
  pm_window *sync_w = pm_window_new("https://a.example/sync");
  pm_window *q1 = pm_window_new("https://a.example/q1");
  pm_window *q2 = pm_window_new("https://a.example/q2");
  pm_window *sender_w = pm_window_new("https://a.example/sender");
  REQUIRE(sync_w && q1 && q2 && sender_w);
  CHECK_RC(pm_window_set_dispatch_mode(q1, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_dispatch_mode(q2, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_dispatch_mode(sender_w, PM_DISPATCH_QUEUED), PM_OK); /* irrelevant */
  wake_count wc1 = {0, NULL};
  CHECK_RC(pm_window_set_waker(q1, count_wake, &wc1), PM_OK);

  pm_broadcast *cq1 = pm_broadcast_new(q1, "qq");
  pm_broadcast *cs = pm_broadcast_new(sync_w, "qq");
  pm_broadcast *cq2 = pm_broadcast_new(q2, "qq");
  pm_broadcast *sender = pm_broadcast_new(sender_w, "qq");
  REQUIRE(cq1 && cs && cq2 && sender);
  chan_rec r1, rs, r2;
  chan_rec_init(&r1, "q1", "https://a.example");
  chan_rec_init(&rs, "s", "https://a.example");
  chan_rec_init(&r2, "q2", "https://a.example");
  CHECK(pm_broadcast_add_listener(cq1, on_broadcast, &r1) > 0);
  CHECK(pm_broadcast_add_listener(cs, on_broadcast, &rs) > 0);
  CHECK(pm_broadcast_add_listener(cq2, on_broadcast, &r2) > 0);

  shared_log[0] = '\0';
  CHECK_RC(bpost(sender, "a"), PM_OK);
  CHECK_RC(bpost(sender, "b"), PM_OK);
  CHECK_STR(shared_log, "s:a;s:b;");
  CHECK(pm_window_pending(q1) == 2 && pm_window_pending(q2) == 2);
  CHECK(pm_window_pending(sender_w) == 0);
  CHECK(wc1.calls == 1 && wc1.window == q1);
  shared_log[0] = '\0';
  CHECK(pm_window_run_pending(q2, SIZE_MAX) == 2);
  CHECK(pm_window_run_pending(q1, 1) == 1);
  CHECK_STR(shared_log, "q2:a;q2:b;q1:a;");
  CHECK(r1.bad_fields == 0 && r2.bad_fields == 0 && rs.bad_fields == 0);

  /* limits: q1 refuses, the others still receive, and the post reports PM_ERR_QUEUE_FULL */
  CHECK_RC(pm_window_set_queue_limit(q1, 1, 0), PM_OK); /* "b" still waits in q1 */
  shared_log[0] = '\0';
  CHECK_RC(bpost(sender, "c"), PM_ERR_QUEUE_FULL);
  CHECK_STR(shared_log, "s:c;");
  CHECK(pm_window_pending(q2) == 1);
  CHECK(pm_window_pending(q1) == 1);
  shared_log[0] = '\0';
  pm_window_run_pending(q1, SIZE_MAX);
  pm_window_run_pending(q2, SIZE_MAX);
  CHECK_STR(shared_log, "q1:b;q2:c;");

  /* navigating a queued receiver discards what was queued for its old channel */
  CHECK_RC(bpost(sender, "d"), PM_OK);
  CHECK_RC(pm_window_navigate(q2, "https://a.example/q2-next"), PM_OK);
  CHECK(pm_window_pending(q2) == 0);
  CHECK(channel_is_invalid(cq2));

  CHECK_RC(pm_window_free(sync_w), PM_OK);
  CHECK_RC(pm_window_free(q1), PM_OK);
  CHECK_RC(pm_window_free(q2), PM_OK);
  CHECK_RC(pm_window_free(sender_w), PM_OK);
}

/* ---------------------------------------------------------------- re-entrancy and depth */

typedef struct {
  pm_broadcast *mine;
  int level;
  int max_level;
  int depth_errors;
} echo_state;

static void echo(const pm_message_event *event, void *user_data) {
  (void)event;
  echo_state *e = user_data;
  e->level++;
  if (e->level > e->max_level) e->max_level = e->level;
  if (bpost(e->mine, "echo") == PM_ERR_DEPTH) e->depth_errors++;
  e->level--;
}

static void test_depth(void) {
  pm_window *w = pm_window_new("https://a.example/");
  REQUIRE(w);
  pm_broadcast *x = pm_broadcast_new(w, "echo");
  pm_broadcast *y = pm_broadcast_new(w, "echo");
  REQUIRE(x && y);
  echo_state ex = {x, 0, 0, 0}, ey = {y, 0, 0, 0};
  CHECK(pm_broadcast_add_listener(x, echo, &ex) > 0);
  CHECK(pm_broadcast_add_listener(y, echo, &ey) > 0);
  CHECK_RC(bpost(x, "start"), PM_OK);
  CHECK(ex.max_level + ey.max_level == PM_MAX_DISPATCH_DEPTH);
  CHECK(ex.depth_errors + ey.depth_errors == 1);
  CHECK_RC(pm_window_free(w), PM_OK);
}


/* ---------------------------------------------------------------- the SYNC post's cache */

/* A channel that has posted is cached on the posting thread: every later change of the
 * receivers, their listeners or their windows must be seen by the next post. */
static void test_cached_broadcast_follows_changes(void) {
  shared_log[0] = '\0';
  pm_window *w1 = pm_window_new("https://cache.example/a");
  pm_window *w2 = pm_window_new("https://cache.example/b");
  REQUIRE(w1 && w2);
  pm_broadcast *sender = pm_broadcast_new(w1, "cache");
  pm_broadcast *r1 = pm_broadcast_new(w1, "cache");
  pm_broadcast *r2 = pm_broadcast_new(w2, "cache");
  REQUIRE(sender && r1 && r2);
  chan_rec a, b, c;
  chan_rec_init(&a, "A", "https://cache.example");
  chan_rec_init(&b, "B", "https://cache.example");
  chan_rec_init(&c, "C", "https://cache.example");
  uint64_t ida = pm_broadcast_add_listener(r1, on_broadcast, &a);
  REQUIRE(ida != 0 && pm_broadcast_add_listener(r2, on_broadcast, &b) != 0);
  CHECK_RC(bpost(sender, "1"), PM_OK);
  CHECK_RC(bpost(sender, "2"), PM_OK);
  CHECK_STR(shared_log, "A:1;B:1;A:2;B:2;");

  /* A listener added, one removed. */
  REQUIRE(pm_broadcast_add_listener(r2, on_broadcast, &c) != 0);
  CHECK_RC(bpost(sender, "3"), PM_OK);
  CHECK_RC(pm_broadcast_remove_listener(r1, ida), PM_OK);
  CHECK_RC(bpost(sender, "4"), PM_OK);
  CHECK_STR(shared_log, "A:1;B:1;A:2;B:2;A:3;B:3;C:3;B:4;C:4;");

  /* A receiver's window becomes QUEUED, then SYNC again. */
  shared_log[0] = '\0';
  CHECK_RC(pm_window_set_dispatch_mode(w2, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(bpost(sender, "5"), PM_OK);
  CHECK_STR(shared_log, "");
  CHECK(pm_window_run_pending(w2, 10) == 1);
  CHECK_STR(shared_log, "B:5;C:5;");
  CHECK_RC(pm_window_set_dispatch_mode(w2, PM_DISPATCH_SYNC), PM_OK);
  CHECK_RC(bpost(sender, "6"), PM_OK);
  CHECK_STR(shared_log, "B:5;C:5;B:6;C:6;");

  /* A new receiver opened, one closed. */
  shared_log[0] = '\0';
  pm_broadcast *r3 = pm_broadcast_new(w1, "cache");
  chan_rec d;
  chan_rec_init(&d, "D", "https://cache.example");
  REQUIRE(r3 && pm_broadcast_add_listener(r3, on_broadcast, &d) != 0);
  CHECK_RC(bpost(sender, "7"), PM_OK);
  CHECK_RC(pm_broadcast_close(r2), PM_OK);
  CHECK_RC(bpost(sender, "8"), PM_OK);
  CHECK_STR(shared_log, "B:7;C:7;D:7;D:8;");

  /* The receiver's window freed: nothing more reaches it; the sender closed: rejected. */
  shared_log[0] = '\0';
  CHECK_RC(pm_window_free(w2), PM_OK);
  CHECK_RC(bpost(sender, "9"), PM_OK);
  CHECK_STR(shared_log, "D:9;");
  CHECK_RC(pm_broadcast_close(sender), PM_OK);
  CHECK(channel_is_invalid(sender));
  CHECK_RC(pm_window_free(w1), PM_OK);
  CHECK(a.bad_fields == 0 && b.bad_fields == 0 && c.bad_fields == 0 && d.bad_fields == 0);
}

/* The same for QUEUED receivers: a warm cache queues an entry per receiver window, and every
 * change must still be seen: limits, listeners, large data shared by two queued receivers, a
 * mode switch, a receiver closed with a message queued, navigation. */
static void test_cached_queued_broadcast_follows_changes(void) {
  shared_log[0] = '\0';
  pm_window *ws = pm_window_new("https://cq.example/s");
  pm_window *q1 = pm_window_new("https://cq.example/q1");
  pm_window *q2 = pm_window_new("https://cq.example/q2");
  REQUIRE(ws && q1 && q2);
  CHECK_RC(pm_window_set_dispatch_mode(q1, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_dispatch_mode(q2, PM_DISPATCH_QUEUED), PM_OK);
  wake_count wc = {0, NULL};
  CHECK_RC(pm_window_set_waker(q1, count_wake, &wc), PM_OK);
  pm_broadcast *sender = pm_broadcast_new(ws, "cq");
  pm_broadcast *r1 = pm_broadcast_new(q1, "cq");
  pm_broadcast *r2 = pm_broadcast_new(q2, "cq");
  REQUIRE(sender && r1 && r2);
  chan_rec a, b, c;
  chan_rec_init(&a, "A", "https://cq.example");
  chan_rec_init(&b, "B", "https://cq.example");
  chan_rec_init(&c, "C", "https://cq.example");
  uint64_t ida = pm_broadcast_add_listener(r1, on_broadcast, &a);
  REQUIRE(ida != 0 && pm_broadcast_add_listener(r2, on_broadcast, &b) != 0);
  CHECK_RC(bpost(sender, "1"), PM_OK);
  CHECK_RC(bpost(sender, "2"), PM_OK);
  CHECK_RC(bpost(sender, "3"), PM_OK);
  CHECK_STR(shared_log, "");
  CHECK(pm_window_pending(q1) == 3 && pm_window_pending(q2) == 3);
  CHECK(wc.calls == 1 && wc.window == q1);
  CHECK(pm_window_run_pending(q2, SIZE_MAX) == 3);
  CHECK(pm_window_run_pending(q1, SIZE_MAX) == 3);
  CHECK_STR(shared_log, "B:1;B:2;B:3;A:1;A:2;A:3;");

  /* Limits: q1 refuses (count, then bytes), q2 still receives, the post says QUEUE_FULL. */
  shared_log[0] = '\0';
  CHECK_RC(pm_window_set_queue_limit(q1, 1, 0), PM_OK);
  CHECK_RC(bpost(sender, "4"), PM_OK);
  CHECK_RC(bpost(sender, "5"), PM_ERR_QUEUE_FULL);
  CHECK_RC(pm_window_set_queue_limit(q1, 0, 4), PM_OK);
  CHECK_RC(bpost(sender, "long"), PM_ERR_QUEUE_FULL);
  CHECK_RC(pm_window_set_queue_limit(q1, 0, 0), PM_OK);
  CHECK(pm_window_pending(q1) == 1 && pm_window_pending(q2) == 3);
  pm_window_run_pending(q1, SIZE_MAX);
  pm_window_run_pending(q2, SIZE_MAX);
  CHECK_STR(shared_log, "A:4;B:4;B:5;B:long;");

  /* Large data (one copy shared by both queued receivers), and a listener added. */
  shared_log[0] = '\0';
  const char *big = "0123456789012345678901234567890123456789-0123456789";
  REQUIRE(pm_broadcast_add_listener(r2, on_broadcast, &c) != 0);
  CHECK_RC(bpost(sender, big), PM_OK);
  CHECK_RC(bpost(sender, "6"), PM_OK);
  pm_window_run_pending(q1, SIZE_MAX);
  pm_window_run_pending(q2, SIZE_MAX);
  char expected[512];
  snprintf(expected, sizeof expected, "A:%s;A:6;B:%s;C:%s;B:6;C:6;", big, big, big);
  CHECK_STR(shared_log, expected);

  /* A listener removed while a message is queued: it does not run. */
  shared_log[0] = '\0';
  CHECK_RC(bpost(sender, "7"), PM_OK);
  CHECK_RC(pm_broadcast_remove_listener(r1, ida), PM_OK);
  CHECK_RC(bpost(sender, "8"), PM_OK);
  pm_window_run_pending(q1, SIZE_MAX);
  CHECK_STR(shared_log, "");
  pm_window_run_pending(q2, SIZE_MAX);
  CHECK_STR(shared_log, "B:7;C:7;B:8;C:8;");

  /* q2 switches to SYNC (delivered at once), then back. */
  shared_log[0] = '\0';
  CHECK_RC(pm_window_set_dispatch_mode(q2, PM_DISPATCH_SYNC), PM_OK);
  CHECK_RC(bpost(sender, "9"), PM_OK);
  CHECK_STR(shared_log, "B:9;C:9;");
  CHECK_RC(pm_window_set_dispatch_mode(q2, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(bpost(sender, "10"), PM_OK);
  CHECK_STR(shared_log, "B:9;C:9;");
  pm_window_run_pending(q2, SIZE_MAX);
  CHECK_STR(shared_log, "B:9;C:9;B:10;C:10;");

  /* r2 closed with a message queued: not delivered; nothing more is queued for it. */
  shared_log[0] = '\0';
  CHECK_RC(bpost(sender, "11"), PM_OK);
  CHECK_RC(pm_broadcast_close(r2), PM_OK);
  CHECK_RC(bpost(sender, "12"), PM_OK);
  pm_window_run_pending(q2, SIZE_MAX);
  CHECK(pm_window_pending(q2) == 0);
  CHECK_STR(shared_log, "");

  /* Navigation of a receiver's window discards what was queued for its channel. */
  pm_broadcast *r3 = pm_broadcast_new(q2, "cq");
  chan_rec d;
  chan_rec_init(&d, "D", "https://cq.example");
  REQUIRE(r3 && pm_broadcast_add_listener(r3, on_broadcast, &d) != 0);
  CHECK_RC(bpost(sender, "13"), PM_OK);
  CHECK_RC(bpost(sender, "14"), PM_OK);
  CHECK(pm_window_pending(q2) == 2);
  CHECK_RC(pm_window_navigate(q2, "https://cq.example/q2-next"), PM_OK);
  CHECK(pm_window_pending(q2) == 0);
  CHECK_RC(bpost(sender, "15"), PM_OK);
  CHECK(pm_window_pending(q2) == 0);
  CHECK(d.count == 0);
  CHECK(channel_is_invalid(r3));

  CHECK_RC(pm_window_free(ws), PM_OK);
  CHECK_RC(pm_window_free(q1), PM_OK);
  CHECK_RC(pm_window_free(q2), PM_OK);
  CHECK(a.bad_fields == 0 && b.bad_fields == 0 && c.bad_fields == 0 && d.bad_fields == 0);
}

int main(void) {
  test_same_name_same_origin();
  test_opaque_origins();
  test_close();
  test_close_during_broadcast();
  test_closed_with_window();
  test_bad_arguments();
  test_queued_receivers();
  test_depth();
  test_cached_broadcast_follows_changes();
  test_cached_queued_broadcast_follows_changes();
  TEST_EXIT("test_broadcast");
}
