/* Queued delivery (PM_DISPATCH_QUEUED): posts queue and return PM_OK, pm_window_run_pending
 * dispatches in FIFO order, the origin is matched at delivery, the waker, navigation, a source
 * freed before delivery, queue limits, threads posting while one thread drains, nesting and the
 * dispatch depth. Written against /work/shared/API.md ("Delivery modes"). */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
  int count;
  char log[8192];
  char last_origin[128];
  pm_window *last_source;
  pm_window *last_target;
  int bad_fields; /* last_event_id not "", data NULL, ports present */
} recorder;

static void recorder_init(recorder *r) { memset(r, 0, sizeof *r); }

static void record(const pm_message_event *event, void *user_data) {
  recorder *r = user_data;
  r->count++;
  size_t n = strlen(r->log);
  if (event->data == NULL) {
    r->bad_fields++;
  } else if (n + event->data_len + 2 < sizeof r->log) {
    memcpy(r->log + n, event->data, event->data_len);
    r->log[n + event->data_len] = '|';
    r->log[n + event->data_len + 1] = '\0';
  }
  snprintf(r->last_origin, sizeof r->last_origin, "%s", event->origin ? event->origin : "(NULL)");
  r->last_source = event->source;
  r->last_target = event->target;
  if (event->last_event_id == NULL || strcmp(event->last_event_id, "") != 0) r->bad_fields++;
  if (event->ports_len != 0) r->bad_fields++;
}

static pm_result post(pm_window *source, pm_window *target, const char *text, const char *origin) {
  return pm_test_post(source, target, text, origin);
}

/* ---------------------------------------------------------------- basics */

static void test_basic_fifo_and_max(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/page");
  pm_window *b = pm_window_new("http://localhost/frame");
  REQUIRE(a && b);
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener(b, record, &r) > 0);

  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);
  CHECK(pm_window_pending(b) == 0);
  CHECK(pm_window_run_pending(b, 100) == 0);

  CHECK_RC(post(a, b, "1", "http://localhost"), PM_OK);
  CHECK_RC(post(a, b, "2", "http://localhost/other/path?q=1#frag"), PM_OK);
  CHECK_RC(post(a, b, "3", "*"), PM_OK);
  CHECK_RC(post(a, b, "4", "http://localhost:80"), PM_OK);
  CHECK_RC(post(a, b, "5", "http://localhost"), PM_OK);
  CHECK(r.count == 0); /* nothing runs inside the post */
  CHECK(pm_window_pending(b) == 5);

  CHECK(pm_window_run_pending(b, 0) == 0); /* up to 0 messages */
  CHECK(pm_window_pending(b) == 5);
  CHECK(r.count == 0);

  CHECK(pm_window_run_pending(b, 2) == 2);
  CHECK(r.count == 2);
  CHECK_STR(r.log, "1|2|");
  CHECK(pm_window_pending(b) == 3);

  CHECK(pm_window_run_pending(b, 1) == 1);
  CHECK_STR(r.log, "1|2|3|");
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 2);
  CHECK_STR(r.log, "1|2|3|4|5|");
  CHECK(pm_window_pending(b) == 0);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 0);

  /* the event's fields */
  CHECK_STR(r.last_origin, "http://127.0.0.1");
  CHECK(r.last_source == a);
  CHECK(r.last_target == b);
  CHECK(r.bad_fields == 0);

  /* the data was copied at post time */
  char buf[8] = "before";
  CHECK_RC(pm_post_message(a, b, (const uint8_t *)buf, 6, "*"), PM_OK);
  memcpy(buf, "AFTER!", 6);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK_STR(r.log, "1|2|3|4|5|before|");

  /* a zero-length message with NULL data */
  CHECK_RC(pm_post_message(a, b, NULL, 0, "*"), PM_OK);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK_STR(r.log, "1|2|3|4|5|before||");
  CHECK(r.bad_fields == 0);

  /* a source posting to itself while queued */
  CHECK_RC(pm_window_set_dispatch_mode(a, PM_DISPATCH_QUEUED), PM_OK);
  recorder ra;
  recorder_init(&ra);
  CHECK(pm_add_listener(a, record, &ra) > 0);
  CHECK_RC(post(a, a, "self", "/"), PM_OK);
  CHECK(ra.count == 0);
  CHECK(pm_window_run_pending(a, SIZE_MAX) == 1);
  CHECK_STR(ra.log, "self|");
  CHECK(ra.last_source == a && ra.last_target == a);

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

static void test_switch_back_to_sync(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(a && b);
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener(b, record, &r) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(a, b, "q1", "*"), PM_OK);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_SYNC), PM_OK);
  CHECK(r.count == 0); /* already-queued messages stay queued */
  CHECK(pm_window_pending(b) == 1);
  CHECK_RC(post(a, b, "s1", "*"), PM_OK); /* synchronous again */
  CHECK_STR(r.log, "s1|");
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK_STR(r.log, "s1|q1|");
  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

static void test_bad_arguments(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(a && b);
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener(b, record, &r) > 0);

  /* unknown modes */
  CHECK_RC(pm_window_set_dispatch_mode(b, (pm_dispatch_mode)2), PM_ERR_INVALID_ARGUMENT);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_window_set_dispatch_mode(b, (pm_dispatch_mode)-1), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(pm_window_set_dispatch_mode(b, (pm_dispatch_mode)1000), PM_ERR_INVALID_ARGUMENT);
  /* ... and the mode did not change: still SYNC */
  CHECK_RC(post(a, b, "sync", "*"), PM_OK);
  CHECK(r.count == 1);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_dispatch_mode(b, (pm_dispatch_mode)7), PM_ERR_INVALID_ARGUMENT);
  CHECK_RC(post(a, b, "queued", "*"), PM_OK);
  CHECK(r.count == 1); /* still QUEUED */
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK(r.count == 2);

  /* NULL and bad handles */
  CHECK_RC(pm_window_set_dispatch_mode(NULL, PM_DISPATCH_QUEUED), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_window_set_waker(NULL, NULL, NULL), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_window_set_queue_limit(NULL, 1, 1), PM_ERR_NULL_ARGUMENT);
  CHECK(pm_window_run_pending(NULL, 10) == 0);
  CHECK(pm_window_pending(NULL) == 0);

  pm_window *gone = pm_window_new("http://gone.example/");
  REQUIRE(gone);
  CHECK_RC(pm_window_set_dispatch_mode(gone, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(a, gone, "x", "*"), PM_OK);
  CHECK_RC(pm_window_free(gone), PM_OK);
  CHECK_RC(pm_window_set_dispatch_mode(gone, PM_DISPATCH_QUEUED), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_set_waker(gone, NULL, NULL), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_set_queue_limit(gone, 1, 1), PM_ERR_INVALID_HANDLE);
  CHECK(pm_window_run_pending(gone, 10) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_window_pending(gone) == 0);
  CHECK_RC(post(a, gone, "x", "*"), PM_ERR_INVALID_HANDLE);

  pm_window *forged = (pm_window *)(uintptr_t)0xdeadbee0u;
  CHECK_RC(pm_window_set_dispatch_mode(forged, PM_DISPATCH_QUEUED), PM_ERR_INVALID_HANDLE);
  CHECK(pm_window_run_pending(forged, 10) == 0);
  CHECK(pm_window_pending(forged) == 0);

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

/* Syntax is checked at post time; the match at delivery. */
static void test_syntax_and_origin_at_delivery(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("https://b.example/app");
  REQUIRE(a && b);
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener(b, record, &r) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);

  CHECK_RC(post(a, b, "bad", "not a url"), PM_ERR_SYNTAX);
  CHECK_HAS_ERROR();
  CHECK_RC(post(a, b, "bad", ""), PM_ERR_SYNTAX);
  CHECK_RC(post(a, b, "bad", "b.example"), PM_ERR_SYNTAX);
  CHECK_RC(post(a, b, "bad", NULL), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_post_message(a, b, (const uint8_t *)"\xff", 1, "\xff\xfe"), PM_ERR_UTF8);
  CHECK(pm_window_pending(b) == 0);

  CHECK_RC(post(a, b, "m1", "https://b.example"), PM_OK);
  CHECK_RC(post(a, b, "x1", "https://evil.example"), PM_OK); /* mismatch: still PM_OK now */
  CHECK_RC(post(a, b, "x2", "http://b.example"), PM_OK);
  CHECK_RC(post(a, b, "m2", "https://b.example:443/p"), PM_OK);
  CHECK_RC(post(a, b, "x3", "/"), PM_OK); /* "/" = http://127.0.0.1: mismatch */
  CHECK_RC(post(a, b, "m3", "*"), PM_OK);
  CHECK(pm_window_pending(b) == 6);
  CHECK(r.count == 0);
  /* dropped messages are taken off the queue and counted */
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 6);
  CHECK_STR(r.log, "m1|m2|m3|");
  CHECK(pm_window_pending(b) == 0);

  /* "/" means the source's origin when it posted, even if the source navigates before the
   * message is delivered */
  pm_window *same = pm_window_new("https://b.example/other");
  REQUIRE(same);
  CHECK_RC(post(same, b, "slash", "/"), PM_OK);
  CHECK_RC(pm_window_navigate(same, "https://elsewhere.example/"), PM_OK);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK_STR(r.log, "m1|m2|m3|slash|");
  CHECK_STR(r.last_origin, "https://b.example");
  CHECK_RC(pm_window_free(same), PM_OK);

  /* opaque origins: "/" from a window with the same opaque origin matches at delivery */
  pm_window *opaque = pm_window_new("data:text/html,x");
  REQUIRE(opaque);
  pm_window *twin = pm_window_new_child(opaque, "about:blank"); /* inherits the opaque origin */
  REQUIRE(twin);
  recorder rt;
  recorder_init(&rt);
  CHECK(pm_add_listener(twin, record, &rt) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(twin, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(opaque, twin, "same opaque", "/"), PM_OK);
  CHECK_RC(post(a, twin, "other origin", "/"), PM_OK);
  CHECK(pm_window_run_pending(twin, SIZE_MAX) == 2);
  CHECK_STR(rt.log, "same opaque|");
  CHECK_STR(rt.last_origin, "null");
  CHECK_RC(pm_window_free(opaque), PM_OK);

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

/* ---------------------------------------------------------------- waker */

typedef struct {
  atomic_int calls;
  pm_window *window;
  void *user_data;
  pthread_t thread;
  size_t pending_seen; /* pm_window_pending() called from inside the waker */
  char origin_seen[64];
  pm_window *sync_target; /* the waker posts here (may be NULL) */
  pm_window *sync_source;
  pm_result sync_post_rc;
} waker_state;

static void waker(pm_window *window, void *user_data) {
  waker_state *w = user_data;
  atomic_fetch_add(&w->calls, 1);
  w->window = window;
  w->user_data = user_data;
  w->thread = pthread_self();
  /* it may call the library */
  w->pending_seen = pm_window_pending(window);
  pm_window_origin(window, w->origin_seen, sizeof w->origin_seen);
  if (w->sync_target) w->sync_post_rc = post(w->sync_source, w->sync_target, "woken", "*");
}

typedef struct {
  pm_window *src;
  pm_window *dst;
  pm_result rc;
} post_job;

static void *post_from_thread(void *arg) {
  post_job *job = arg;
  job->rc = post(job->src, job->dst, "from thread", "*");
  return NULL;
}

static void test_waker(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  pm_window *log_window = pm_window_new("http://127.0.0.1/log");
  REQUIRE(a && b && log_window);
  recorder r, rlog;
  recorder_init(&r);
  recorder_init(&rlog);
  CHECK(pm_add_listener(b, record, &r) > 0);
  CHECK(pm_add_listener(log_window, record, &rlog) > 0);

  waker_state w;
  memset(&w, 0, sizeof w);
  atomic_init(&w.calls, 0);
  w.sync_source = a;
  w.sync_target = log_window;
  CHECK_RC(pm_window_set_waker(b, waker, &w), PM_OK);

  /* in SYNC mode nothing is queued, so nothing wakes */
  CHECK_RC(post(a, b, "sync", "*"), PM_OK);
  CHECK(atomic_load(&w.calls) == 0);
  CHECK(r.count == 1);

  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(a, b, "q1", "*"), PM_OK);
  CHECK(atomic_load(&w.calls) == 1);
  CHECK(w.window == b);
  CHECK(w.user_data == &w);
  CHECK(pthread_equal(w.thread, pthread_self()));
  CHECK(w.pending_seen == 1);
  CHECK_STR(w.origin_seen, "http://localhost");
  CHECK_RC(w.sync_post_rc, PM_OK);
  CHECK_STR(rlog.log, "woken|");
  /* more posts to a non-empty queue do not wake again */
  CHECK_RC(post(a, b, "q2", "*"), PM_OK);
  CHECK_RC(post(a, b, "q3", "https://nomatch.example"), PM_OK); /* queued all the same */
  CHECK(atomic_load(&w.calls) == 1);
  /* partly drained: still non-empty, no wake */
  CHECK(pm_window_run_pending(b, 1) == 1);
  CHECK_RC(post(a, b, "q4", "*"), PM_OK);
  CHECK(atomic_load(&w.calls) == 1);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 3);
  CHECK_STR(r.log, "sync|q1|q2|q4|");

  /* empty -> non-empty again: wakes again; a mismatched message counts as well */
  CHECK_RC(post(a, b, "nomatch", "https://nomatch.example"), PM_OK);
  CHECK(atomic_load(&w.calls) == 2);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK_STR(r.log, "sync|q1|q2|q4|");

  /* a refused post (syntax) does not wake */
  CHECK_RC(post(a, b, "bad", "::"), PM_ERR_SYNTAX);
  CHECK(atomic_load(&w.calls) == 2);

  /* the waker runs on the posting thread */
  post_job job = {a, b, PM_ERR_PANIC};
  pthread_t t;
  w.sync_target = NULL;
  REQUIRE(pthread_create(&t, NULL, post_from_thread, &job) == 0);
  REQUIRE(pthread_join(t, NULL) == 0);
  CHECK_RC(job.rc, PM_OK);
  CHECK(atomic_load(&w.calls) == 3);
  CHECK(pthread_equal(w.thread, t));
  CHECK(!pthread_equal(w.thread, pthread_self()));
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK_STR(r.log, "sync|q1|q2|q4|from thread|");

  /* a NULL waker removes it */
  CHECK_RC(pm_window_set_waker(b, NULL, NULL), PM_OK);
  CHECK_RC(post(a, b, "unwoken", "*"), PM_OK);
  CHECK(atomic_load(&w.calls) == 3);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);

  /* replacing the waker: the new one (with its own user_data) is used */
  waker_state w2;
  memset(&w2, 0, sizeof w2);
  atomic_init(&w2.calls, 0);
  CHECK_RC(pm_window_set_waker(b, waker, &w), PM_OK);
  CHECK_RC(pm_window_set_waker(b, waker, &w2), PM_OK);
  CHECK_RC(post(a, b, "w2", "*"), PM_OK);
  CHECK(atomic_load(&w.calls) == 3);
  CHECK(atomic_load(&w2.calls) == 1);
  CHECK(w2.user_data == &w2);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
  CHECK_RC(pm_window_free(log_window), PM_OK);
}

/* A waker that drains the queue itself (it may call the library, including run_pending). */
static recorder drain_rec;
static void draining_waker(pm_window *window, void *user_data) {
  (void)user_data;
  pm_window_run_pending(window, SIZE_MAX);
}

static void test_waker_that_drains(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(a && b);
  recorder_init(&drain_rec);
  CHECK(pm_add_listener(b, record, &drain_rec) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_waker(b, draining_waker, NULL), PM_OK);
  CHECK_RC(post(a, b, "d1", "*"), PM_OK);
  CHECK_RC(post(a, b, "d2", "*"), PM_OK);
  CHECK_STR(drain_rec.log, "d1|d2|");
  CHECK(pm_window_pending(b) == 0);
  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

/* ---------------------------------------------------------------- navigation */

static void test_navigation(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/one");
  REQUIRE(a && b);
  recorder old_doc, new_doc;
  recorder_init(&old_doc);
  recorder_init(&new_doc);
  CHECK(pm_add_listener(b, record, &old_doc) > 0);
  waker_state w;
  memset(&w, 0, sizeof w);
  atomic_init(&w.calls, 0);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_waker(b, waker, &w), PM_OK);
  CHECK_RC(pm_window_set_queue_limit(b, 3, 0), PM_OK);

  CHECK_RC(post(a, b, "old1", "*"), PM_OK);
  CHECK_RC(post(a, b, "old2", "http://localhost"), PM_OK);
  CHECK(atomic_load(&w.calls) == 1);
  CHECK(pm_window_pending(b) == 2);

  /* same origin, new document: the old queue is discarded all the same */
  CHECK_RC(pm_window_navigate(b, "http://localhost/two"), PM_OK);
  CHECK(pm_window_pending(b) == 0);
  CHECK(pm_add_listener(b, record, &new_doc) > 0);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 0);
  CHECK(old_doc.count == 0);
  CHECK(new_doc.count == 0);

  /* mode survives: posts still queue; waker survives: empty -> non-empty wakes */
  CHECK_RC(post(a, b, "new1", "*"), PM_OK);
  CHECK(new_doc.count == 0);
  CHECK(atomic_load(&w.calls) == 2);
  CHECK(w.window == b);
  /* limits survive: 3 messages */
  CHECK_RC(post(a, b, "new2", "*"), PM_OK);
  CHECK_RC(post(a, b, "new3", "*"), PM_OK);
  CHECK_RC(post(a, b, "new4", "*"), PM_ERR_QUEUE_FULL);
  CHECK(pm_window_pending(b) == 3);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 3);
  CHECK_STR(new_doc.log, "new1|new2|new3|");
  CHECK(old_doc.count == 0);

  /* a queued message whose targetOrigin matched the old document's origin is discarded, and
   * one aimed at the new origin posted before the navigation does not arrive either */
  CHECK_RC(post(a, b, "for-old", "http://localhost"), PM_OK);
  CHECK_RC(post(a, b, "for-new-early", "https://new.example"), PM_OK);
  CHECK_RC(pm_window_navigate(b, "https://new.example/"), PM_OK);
  recorder newer;
  recorder_init(&newer);
  CHECK(pm_add_listener(b, record, &newer) > 0);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 0);
  CHECK(newer.count == 0);
  CHECK_RC(post(a, b, "for-new", "https://new.example"), PM_OK);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK_STR(newer.log, "for-new|");

  /* navigating to about:blank: opaque; still queued mode */
  CHECK_RC(post(a, b, "x", "*"), PM_OK);
  CHECK_RC(pm_window_navigate(b, "about:blank"), PM_OK);
  CHECK(pm_window_pending(b) == 0);
  CHECK_STR(pm_test_origin(b), "null");
  recorder blank;
  recorder_init(&blank);
  CHECK(pm_add_listener(b, record, &blank) > 0);
  CHECK_RC(post(a, b, "to-blank", "*"), PM_OK);
  CHECK(blank.count == 0);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK_STR(blank.log, "to-blank|");

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

/* The listener navigates its own window while messages are still queued behind it. */
static pm_window *nav_self_window;
static recorder nav_self_rec;
static void navigate_self(const pm_message_event *event, void *user_data) {
  record(event, user_data);
  pm_window_navigate(nav_self_window, "http://localhost/after");
}

static void test_navigation_inside_run_pending(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  nav_self_window = pm_window_new("http://localhost/before");
  REQUIRE(a && nav_self_window);
  recorder_init(&nav_self_rec);
  CHECK(pm_add_listener(nav_self_window, navigate_self, &nav_self_rec) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(nav_self_window, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(a, nav_self_window, "first", "*"), PM_OK);
  CHECK_RC(post(a, nav_self_window, "second", "*"), PM_OK);
  CHECK_RC(post(a, nav_self_window, "third", "*"), PM_OK);
  size_t taken = pm_window_run_pending(nav_self_window, SIZE_MAX);
  CHECK(taken >= 1 && taken <= 3);
  CHECK_STR(nav_self_rec.log, "first|"); /* the rest was for the old document */
  CHECK(pm_window_pending(nav_self_window) == 0);
  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(nav_self_window), PM_OK);
}

/* ---------------------------------------------------------------- source gone */

static void test_source_freed_before_delivery(void) {
  pm_window *src = pm_window_new("https://source.example:8443/path");
  pm_window *child_src = pm_window_new_child(src, "https://child.example/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(src && child_src && b);
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener(b, record, &r) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);

  CHECK_RC(post(src, b, "from-src", "http://localhost"), PM_OK);
  CHECK_RC(post(child_src, b, "from-child", "*"), PM_OK);
  CHECK_RC(pm_window_free(src), PM_OK); /* frees the child too */
  CHECK(pm_window_pending(b) == 2);
  CHECK(pm_window_run_pending(b, 1) == 1);
  CHECK_STR(r.log, "from-src|");
  CHECK(r.last_source == NULL);
  CHECK_STR(r.last_origin, "https://source.example:8443");
  CHECK(r.last_target == b);
  CHECK(pm_window_run_pending(b, 1) == 1);
  CHECK_STR(r.log, "from-src|from-child|");
  CHECK(r.last_source == NULL);
  CHECK_STR(r.last_origin, "https://child.example");

  /* source navigated after posting: origin is still the one at post time */
  pm_window *nav = pm_window_new("https://first.example/");
  REQUIRE(nav);
  CHECK_RC(post(nav, b, "before-nav", "*"), PM_OK);
  CHECK_RC(pm_window_navigate(nav, "https://second.example/"), PM_OK);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 1);
  CHECK_STR(r.last_origin, "https://first.example");
  CHECK_RC(pm_window_free(nav), PM_OK);

  CHECK_RC(pm_window_free(b), PM_OK);
}

/* ---------------------------------------------------------------- limits */

static void test_queue_limits(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(a && b);
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener(b, record, &r) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);

  /* defaults: 10,000 messages fit, the 10,001st does not */
  int refused = 0;
  for (int i = 0; i < 10000; i++)
    if (pm_post_message(a, b, (const uint8_t *)"x", 1, "*") != PM_OK) refused++;
  CHECK(refused == 0);
  CHECK(pm_window_pending(b) == 10000);
  CHECK_RC(pm_post_message(a, b, (const uint8_t *)"x", 1, "*"), PM_ERR_QUEUE_FULL);
  CHECK_HAS_ERROR();
  CHECK(pm_window_pending(b) == 10000);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 10000);
  CHECK(r.count == 10000);
  recorder_init(&r);

  /* message limit */
  CHECK_RC(pm_window_set_queue_limit(b, 3, 0), PM_OK);
  CHECK_RC(post(a, b, "1", "*"), PM_OK);
  CHECK_RC(post(a, b, "2", "*"), PM_OK);
  CHECK_RC(post(a, b, "3", "*"), PM_OK);
  CHECK_RC(post(a, b, "4", "*"), PM_ERR_QUEUE_FULL);
  CHECK(pm_window_pending(b) == 3);
  /* a refused post is refused before the origin is looked at, and a syntax error wins */
  CHECK_RC(post(a, b, "5", "::bad"), PM_ERR_SYNTAX);
  CHECK(pm_window_run_pending(b, 1) == 1);
  CHECK_RC(post(a, b, "6", "*"), PM_OK); /* room again */
  CHECK_RC(post(a, b, "7", "*"), PM_ERR_QUEUE_FULL);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 3);
  CHECK_STR(r.log, "1|2|3|6|");

  /* byte limit: counts the message being posted */
  recorder_init(&r);
  CHECK_RC(pm_window_set_queue_limit(b, 0, 10), PM_OK);
  CHECK_RC(post(a, b, "aaaa", "*"), PM_OK);    /* 4 */
  CHECK_RC(post(a, b, "bbbb", "*"), PM_OK);    /* 8 */
  CHECK_RC(post(a, b, "cccc", "*"), PM_ERR_QUEUE_FULL); /* would be 12 */
  CHECK(pm_window_pending(b) == 2);
  CHECK_RC(post(a, b, "dd", "*"), PM_OK);      /* exactly 10 */
  CHECK_RC(post(a, b, "e", "*"), PM_ERR_QUEUE_FULL);
  CHECK_RC(pm_post_message(a, b, NULL, 0, "*"), PM_OK); /* 0 bytes still fit; no message limit */
  CHECK(pm_window_pending(b) == 4);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 4);
  CHECK_STR(r.log, "aaaa|bbbb|dd||");
  /* a single message larger than the limit never fits */
  CHECK_RC(post(a, b, "01234567890", "*"), PM_ERR_QUEUE_FULL);
  CHECK(pm_window_pending(b) == 0);

  /* both limits */
  recorder_init(&r);
  CHECK_RC(pm_window_set_queue_limit(b, 2, 100), PM_OK);
  CHECK_RC(post(a, b, "p", "*"), PM_OK);
  CHECK_RC(post(a, b, "q", "*"), PM_OK);
  CHECK_RC(post(a, b, "r", "*"), PM_ERR_QUEUE_FULL);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 2);
  CHECK_STR(r.log, "p|q|");

  /* lowering the limit below the current length keeps what is queued */
  recorder_init(&r);
  CHECK_RC(pm_window_set_queue_limit(b, 0, 0), PM_OK);
  for (int i = 0; i < 5; i++) CHECK_RC(post(a, b, "k", "*"), PM_OK);
  CHECK_RC(pm_window_set_queue_limit(b, 2, 0), PM_OK);
  CHECK(pm_window_pending(b) == 5);
  CHECK_RC(post(a, b, "k", "*"), PM_ERR_QUEUE_FULL);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 5);

  /* 0 = unlimited: more than the default 10,000 */
  recorder_init(&r);
  CHECK_RC(pm_window_set_queue_limit(b, 0, 0), PM_OK);
  refused = 0;
  for (int i = 0; i < 10050; i++)
    if (pm_post_message(a, b, (const uint8_t *)"y", 1, "*") != PM_OK) refused++;
  CHECK(refused == 0);
  CHECK(pm_window_pending(b) == 10050);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 10050);
  CHECK(r.count == 10050);

  /* the default byte limit is 64 MiB: a 64 MiB message fits, one byte more does not */
  {
    pm_window *c = pm_window_new("http://localhost/big");
    REQUIRE(c);
    CHECK_RC(pm_window_set_dispatch_mode(c, PM_DISPATCH_QUEUED), PM_OK);
    size_t big = (size_t)64 * 1024 * 1024;
    uint8_t *data = calloc(1, big + 1);
    REQUIRE(data);
    CHECK_RC(pm_post_message(a, c, data, big + 1, "*"), PM_ERR_QUEUE_FULL);
    CHECK(pm_window_pending(c) == 0);
    CHECK_RC(pm_post_message(a, c, data, big, "*"), PM_OK);
    CHECK_RC(pm_post_message(a, c, data, 1, "*"), PM_ERR_QUEUE_FULL);
    CHECK(pm_window_pending(c) == 1);
    free(data);
    CHECK_RC(pm_window_free(c), PM_OK); /* frees the queued 64 MiB */
  }

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

/* ---------------------------------------------------------------- freeing with a queue */

static void test_free_with_queue(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *parent = pm_window_new("http://localhost/");
  REQUIRE(a && parent);
  pm_window *child = pm_window_new_child(parent, "http://localhost/child");
  REQUIRE(child);
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener(child, record, &r) > 0);
  CHECK(pm_add_listener(parent, record, &r) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(parent, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_dispatch_mode(child, PM_DISPATCH_QUEUED), PM_OK);
  char buf[256];
  memset(buf, 'z', sizeof buf);
  for (int i = 0; i < 100; i++) {
    CHECK_RC(pm_post_message(a, parent, (const uint8_t *)buf, sizeof buf, "*"), PM_OK);
    CHECK_RC(pm_post_message(a, child, (const uint8_t *)buf, sizeof buf, "*"), PM_OK);
  }
  CHECK(pm_window_pending(parent) == 100);
  CHECK(pm_window_pending(child) == 100);
  CHECK_RC(pm_window_free(parent), PM_OK); /* and the child with its queue */
  CHECK(r.count == 0);
  CHECK(pm_window_pending(child) == 0);
  CHECK_RC(pm_window_free(child), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(a), PM_OK);
}

/* A listener in a queued window frees its own window while more messages are queued. */
static void free_own_window(const pm_message_event *event, void *user_data) {
  record(event, user_data);
  pm_window_free(event->target);
}

static void test_free_inside_run_pending(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(a && b);
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener(b, free_own_window, &r) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(a, b, "one", "*"), PM_OK);
  CHECK_RC(post(a, b, "two", "*"), PM_OK);
  size_t taken = pm_window_run_pending(b, SIZE_MAX);
  CHECK(taken >= 1 && taken <= 2);
  CHECK_STR(r.log, "one|");
  CHECK(pm_window_pending(b) == 0);
  CHECK_RC(pm_window_free(b), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(a), PM_OK);
}

/* ---------------------------------------------------------------- threads */

#define POSTERS 4
#define PER_POSTER 2000

typedef struct {
  pm_window *src;
  pm_window *dst;
  int index;
  atomic_int *started;
  long failures;
} thread_poster;

typedef struct {
  long received;
  long next_seq[POSTERS];
  long out_of_order;
  long bad;
  pthread_t runner;
  long wrong_thread;
} drain_state;

static void drain_listener(const pm_message_event *event, void *user_data) {
  drain_state *d = user_data;
  d->received++;
  if (!pthread_equal(pthread_self(), d->runner)) d->wrong_thread++;
  int msg[2];
  if (event->data_len != sizeof msg) {
    d->bad++;
    return;
  }
  memcpy(msg, event->data, sizeof msg);
  if (msg[0] < 0 || msg[0] >= POSTERS) {
    d->bad++;
    return;
  }
  if (msg[1] != d->next_seq[msg[0]]) d->out_of_order++;
  d->next_seq[msg[0]] = msg[1] + 1;
}

static void *thread_poster_main(void *arg) {
  thread_poster *p = arg;
  atomic_fetch_add(p->started, 1);
  for (int i = 0; i < PER_POSTER; i++) {
    int msg[2] = {p->index, i};
    if (pm_post_message(p->src, p->dst, (const uint8_t *)msg, sizeof msg, "http://localhost") != PM_OK)
      p->failures++;
    if (i % 64 == 0) sched_yield();
  }
  return NULL;
}

static atomic_int thread_wakes;
static void counting_waker(pm_window *window, void *user_data) {
  (void)window;
  (void)user_data;
  atomic_fetch_add(&thread_wakes, 1);
}

static void test_threads_posting_while_draining(void) {
  pm_window *dst = pm_window_new("http://localhost/");
  REQUIRE(dst);
  CHECK_RC(pm_window_set_dispatch_mode(dst, PM_DISPATCH_QUEUED), PM_OK);
  atomic_init(&thread_wakes, 0);
  CHECK_RC(pm_window_set_waker(dst, counting_waker, NULL), PM_OK);
  drain_state d;
  memset(&d, 0, sizeof d);
  d.runner = pthread_self();
  CHECK(pm_add_listener(dst, drain_listener, &d) > 0);

  atomic_int started;
  atomic_init(&started, 0);
  thread_poster posters[POSTERS];
  pthread_t threads[POSTERS];
  for (int i = 0; i < POSTERS; i++) {
    posters[i].src = pm_window_new("http://127.0.0.1/");
    REQUIRE(posters[i].src);
    posters[i].dst = dst;
    posters[i].index = i;
    posters[i].started = &started;
    posters[i].failures = 0;
  }
  for (int i = 0; i < POSTERS; i++)
    REQUIRE(pthread_create(&threads[i], NULL, thread_poster_main, &posters[i]) == 0);

  size_t total_taken = 0;
  long spins = 0;
  while (d.received < (long)POSTERS * PER_POSTER && spins < 50000000L) {
    size_t n = pm_window_run_pending(dst, 37);
    total_taken += n;
    if (n == 0) sched_yield();
    spins++;
  }
  for (int i = 0; i < POSTERS; i++) REQUIRE(pthread_join(threads[i], NULL) == 0);
  total_taken += pm_window_run_pending(dst, SIZE_MAX);

  long failures = 0;
  for (int i = 0; i < POSTERS; i++) failures += posters[i].failures;
  CHECK(failures == 0);
  CHECK(d.received == (long)POSTERS * PER_POSTER);
  CHECK(total_taken == (size_t)POSTERS * PER_POSTER);
  CHECK(d.out_of_order == 0);
  CHECK(d.bad == 0);
  CHECK(d.wrong_thread == 0);
  for (int i = 0; i < POSTERS; i++) CHECK(d.next_seq[i] == PER_POSTER);
  CHECK(pm_window_pending(dst) == 0);
  CHECK(atomic_load(&thread_wakes) >= 1);

  for (int i = 0; i < POSTERS; i++) CHECK_RC(pm_window_free(posters[i].src), PM_OK);
  CHECK_RC(pm_window_free(dst), PM_OK);
}

/* ---------------------------------------------------------------- nesting */

typedef struct {
  pm_window *queued;
  size_t nested_taken;
  int calls;
} nest_state;

static void run_other_queue(const pm_message_event *event, void *user_data) {
  (void)event;
  nest_state *n = user_data;
  n->calls++;
  n->nested_taken += pm_window_run_pending(n->queued, SIZE_MAX);
}

typedef struct {
  recorder rec;
  pm_window *self;
  size_t nested_taken;
  int depth;
  int max_depth;
} self_drain_state;

static void run_own_queue(const pm_message_event *event, void *user_data) {
  self_drain_state *s = user_data;
  s->depth++;
  if (s->depth > s->max_depth) s->max_depth = s->depth;
  record(event, &s->rec);
  if (s->rec.count == 1) s->nested_taken += pm_window_run_pending(s->self, SIZE_MAX);
  s->depth--;
}

static void test_run_pending_nested(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *q = pm_window_new("http://localhost/q");
  pm_window *s = pm_window_new("http://localhost/s");
  REQUIRE(a && q && s);
  recorder rq;
  recorder_init(&rq);
  CHECK(pm_add_listener(q, record, &rq) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(q, PM_DISPATCH_QUEUED), PM_OK);
  nest_state n = {q, 0, 0};
  CHECK(pm_add_listener(s, run_other_queue, &n) > 0);

  CHECK_RC(post(a, q, "n1", "*"), PM_OK);
  CHECK_RC(post(a, q, "n2", "*"), PM_OK);
  CHECK_RC(post(a, s, "go", "*"), PM_OK); /* SYNC: its listener drains q */
  CHECK(n.calls == 1);
  CHECK(n.nested_taken == 2);
  CHECK_STR(rq.log, "n1|n2|");
  CHECK(pm_window_pending(q) == 0);

  /* a queued window's listener draining its own queue */
  pm_window *self = pm_window_new("http://localhost/self");
  REQUIRE(self);
  self_drain_state st;
  memset(&st, 0, sizeof st);
  st.self = self;
  CHECK(pm_add_listener(self, run_own_queue, &st) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(self, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(a, self, "s1", "*"), PM_OK);
  CHECK_RC(post(a, self, "s2", "*"), PM_OK);
  CHECK_RC(post(a, self, "s3", "*"), PM_OK);
  size_t outer = pm_window_run_pending(self, SIZE_MAX);
  CHECK(st.rec.count == 3); /* each exactly once */
  CHECK_STR(st.rec.log, "s1|s2|s3|");
  CHECK(st.nested_taken == 2);
  CHECK(outer + st.nested_taken == 3);
  CHECK(st.max_depth == 2);
  CHECK(pm_window_pending(self) == 0);

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(q), PM_OK);
  CHECK_RC(pm_window_free(s), PM_OK);
  CHECK_RC(pm_window_free(self), PM_OK);
}

/* Messages queued while run_pending runs are taken too, up to max. */
typedef struct {
  recorder rec;
  pm_window *self;
  int follow_ups_left;
} follow_up_state;

static void post_follow_up(const pm_message_event *event, void *user_data) {
  follow_up_state *f = user_data;
  record(event, &f->rec);
  if (f->follow_ups_left > 0) {
    f->follow_ups_left--;
    CHECK_RC(post(f->self, f->self, "follow-up", "*"), PM_OK);
  }
}

static void test_messages_queued_while_running(void) {
  pm_window *w = pm_window_new("http://localhost/");
  REQUIRE(w);
  follow_up_state f;
  memset(&f, 0, sizeof f);
  f.self = w;
  f.follow_ups_left = 3;
  CHECK(pm_add_listener(w, post_follow_up, &f) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(w, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(w, w, "first", "*"), PM_OK);
  CHECK(pm_window_run_pending(w, SIZE_MAX) == 4);
  CHECK_STR(f.rec.log, "first|follow-up|follow-up|follow-up|");
  CHECK(pm_window_pending(w) == 0);

  recorder_init(&f.rec);
  f.follow_ups_left = 5;
  CHECK_RC(post(w, w, "again", "*"), PM_OK);
  CHECK(pm_window_run_pending(w, 2) == 2); /* max still holds */
  CHECK_STR(f.rec.log, "again|follow-up|");
  CHECK(pm_window_pending(w) == 1);
  f.follow_ups_left = 0;
  CHECK(pm_window_run_pending(w, SIZE_MAX) == 1);
  CHECK_RC(pm_window_free(w), PM_OK);
}

/* Depth: run_pending counts as a nested dispatch. A synchronous self-post recursion goes as deep
 * as it can; at the deepest level (where the post returned PM_ERR_DEPTH) run_pending must be
 * refused as well, and leave the message queued. */
typedef struct {
  pm_window *win;
  pm_window *queued;
  int level;
  int max_level;
  int depth_errors;
  size_t deepest_run_pending;
  int deepest_run_pending_tried;
  size_t pending_after;
  pm_result deepest_queued_post;
  char deepest_error[256];
} depth_state;

static void recurse_sync(const pm_message_event *event, void *user_data) {
  (void)event;
  depth_state *d = user_data;
  d->level++;
  if (d->level > d->max_level) d->max_level = d->level;
  pm_result rc = post(d->win, d->win, "deeper", "*");
  if (rc == PM_ERR_DEPTH) {
    d->depth_errors++;
    if (d->queued && !d->deepest_run_pending_tried) {
      d->deepest_run_pending_tried = 1;
      d->deepest_run_pending = pm_window_run_pending(d->queued, SIZE_MAX);
      snprintf(d->deepest_error, sizeof d->deepest_error, "%s", pm_last_error());
      d->pending_after = pm_window_pending(d->queued);
      d->deepest_queued_post = post(d->win, d->queued, "queued from the deepest level", "*");
    }
  }
  d->level--;
}

/* Reached through run_pending: starts a synchronous recursion from there. */
typedef struct {
  depth_state *inner;
  pm_window *src;
} start_from_queue;

static void start_recursion(const pm_message_event *event, void *user_data) {
  (void)event;
  start_from_queue *s = user_data;
  post(s->src, s->inner->win, "start", "*");
}

static void test_depth_includes_run_pending(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *w = pm_window_new("http://localhost/rec");
  pm_window *q = pm_window_new("http://localhost/q");
  REQUIRE(a && w && q);
  recorder rq;
  recorder_init(&rq);
  CHECK(pm_add_listener(q, record, &rq) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(q, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(a, q, "waiting", "*"), PM_OK);

  depth_state d;
  memset(&d, 0, sizeof d);
  d.win = w;
  d.queued = q;
  CHECK(pm_add_listener(w, recurse_sync, &d) > 0);
  CHECK_RC(post(a, w, "start", "*"), PM_OK);
  CHECK(d.max_level == PM_MAX_DISPATCH_DEPTH);
  CHECK(d.max_level >= 16);
  CHECK(d.depth_errors == 1);
  CHECK(d.deepest_run_pending_tried == 1);
  CHECK(d.deepest_run_pending == 0);
  CHECK(d.deepest_error[0] != '\0');
  CHECK(d.pending_after == 1);
  CHECK(rq.count == 0);
  /* but posting into a QUEUED window at the deepest level is not a dispatch: it queues */
  CHECK_RC(d.deepest_queued_post, PM_OK);
  CHECK(pm_window_pending(q) == 2);
  CHECK(pm_window_run_pending(q, 1) == 1);
  /* back at the top it runs */
  CHECK(pm_window_run_pending(q, SIZE_MAX) == 1);
  CHECK_STR(rq.log, "waiting|queued from the deepest level|");

  /* from inside a run_pending delivery, fewer synchronous levels are left */
  depth_state inner;
  memset(&inner, 0, sizeof inner);
  pm_window *w2 = pm_window_new("http://localhost/rec2");
  REQUIRE(w2);
  inner.win = w2;
  CHECK(pm_add_listener(w2, recurse_sync, &inner) > 0);
  start_from_queue sfq = {&inner, a};
  CHECK(pm_add_listener(q, start_recursion, &sfq) > 0);
  CHECK_RC(post(a, q, "kick", "*"), PM_OK);
  CHECK(pm_window_run_pending(q, SIZE_MAX) == 1);
  CHECK(inner.depth_errors == 1);
  CHECK(inner.max_level >= 1);
  CHECK(inner.max_level < d.max_level); /* run_pending and q's delivery used up levels */

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK_RC(pm_window_free(w2), PM_OK);
  CHECK_RC(pm_window_free(q), PM_OK);
}

typedef struct {
  pm_window *self;
  int level;
  int max_level;
  int refused;
  char refused_error[256];
} rp_depth_state;

static void recurse_run_pending(const pm_message_event *event, void *user_data) {
  (void)event;
  rp_depth_state *s = user_data;
  s->level++;
  if (s->level > s->max_level) s->max_level = s->level;
  if (!s->refused) {
    CHECK_RC(post(s->self, s->self, "again", "*"), PM_OK);
    size_t n = pm_window_run_pending(s->self, 1);
    if (n == 0) {
      s->refused = 1;
      snprintf(s->refused_error, sizeof s->refused_error, "%s", pm_last_error());
    }
  }
  s->level--;
}

static void test_run_pending_recursion_depth(void) {
  pm_window *w = pm_window_new("http://localhost/");
  REQUIRE(w);
  rp_depth_state s;
  memset(&s, 0, sizeof s);
  s.self = w;
  CHECK(pm_add_listener(w, recurse_run_pending, &s) > 0);
  CHECK_RC(pm_window_set_dispatch_mode(w, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(w, w, "first", "*"), PM_OK);
  CHECK(pm_window_run_pending(w, 1) == 1);
  CHECK(s.refused == 1);
  CHECK(s.refused_error[0] != '\0');
  CHECK(s.max_level >= 8);
  CHECK(s.max_level <= PM_MAX_DISPATCH_DEPTH);
  /* the refused message is still queued, and runs at the top level */
  CHECK(pm_window_pending(w) == 1);
  CHECK(pm_window_run_pending(w, SIZE_MAX) == 1);
  CHECK(pm_window_pending(w) == 0);
  CHECK_RC(pm_window_free(w), PM_OK);
}

int main(void) {
  test_basic_fifo_and_max();
  test_switch_back_to_sync();
  test_bad_arguments();
  test_syntax_and_origin_at_delivery();
  test_waker();
  test_waker_that_drains();
  test_navigation();
  test_navigation_inside_run_pending();
  test_source_freed_before_delivery();
  test_queue_limits();
  test_free_with_queue();
  test_free_inside_run_pending();
  test_threads_posting_while_draining();
  test_messages_queued_while_running();
  test_run_pending_nested();
  test_depth_includes_run_pending();
  test_run_pending_recursion_depth();
  TEST_EXIT("test_queue");
}
