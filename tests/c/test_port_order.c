/* A transferred port's waiting messages keep their order (HTML: a port's message queue moves
 * with the port). A port started in a QUEUED window has its messages queued in that window;
 * when the port is transferred they leave that queue with it, in front of anything posted
 * later: in another local window (window post or port post), in another "process" (a proxy),
 * with ports inside them, when the old window is freed afterwards, when the new window's
 * queue limit is lower, and while another thread keeps posting to the port (stress). */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
  int count;
  char log[4096];
  size_t ports_len[16]; /* ports carried by each of the first 16 events */
  pm_port *ports[16];   /* the first port of each */
} recorder;

static void recorder_init(recorder *r) { memset(r, 0, sizeof *r); }

static void port_record(const pm_message_event *event, void *user_data) {
  recorder *r = user_data;
  if (r->count < 16) {
    r->ports_len[r->count] = event->ports_len;
    r->ports[r->count] = event->ports_len ? event->ports[0] : NULL;
  }
  r->count++;
  size_t n = strlen(r->log);
  if (n + event->data_len + 2 < sizeof r->log) {
    memcpy(r->log + n, event->data, event->data_len);
    r->log[n + event->data_len] = '|';
    r->log[n + event->data_len + 1] = '\0';
  }
}

/* A window listener that starts the first port it receives with `port_record` on `target`. */
typedef struct {
  recorder *target;
  pm_port *port;
  int windows;
} starter;

static void start_received(const pm_message_event *event, void *user_data) {
  starter *s = user_data;
  s->windows++;
  if (event->ports_len == 1 && s->port == NULL) {
    s->port = event->ports[0];
    CHECK(pm_port_add_listener(s->port, port_record, s->target) > 0);
  }
}

static pm_result port_post(pm_port *port, const char *text) {
  return pm_port_post_message(port, (const uint8_t *)text, strlen(text), NULL, 0);
}

static int drops;
static void count_drop(const pm_drop_event *event, void *user_data) {
  (void)event;
  (void)user_data;
  drops++;
}

static pm_window *queued_window(const char *url) {
  pm_window *w = pm_window_new(url);
  REQUIRE(w != NULL);
  CHECK_RC(pm_window_set_dispatch_mode(w, PM_DISPATCH_QUEUED), PM_OK);
  return w;
}

/* A channel in `w1`, its second port started there with `old`; returns the first port. */
static pm_port *started_in(pm_window *w1, pm_port **p2, recorder *old) {
  pm_port *p1 = NULL;
  REQUIRE(pm_channel_new(w1, &p1, p2) == PM_OK);
  CHECK(pm_port_add_listener(*p2, port_record, old) > 0);
  return p1;
}

/* The common stage: two QUEUED windows W1 and W2, a channel in W1 whose second port P (`p2`)
 * is started there with `old`, and a listener on W2 that starts the first port it receives
 * with `moved`. */
typedef struct {
  pm_window *w1, *w2;
  recorder old, moved;
  pm_port *p1, *p2;
  starter s;
} stage;

static void stage_open(stage *t) {
  memset(t, 0, sizeof *t);
  t->w1 = queued_window("https://one.example/");
  t->w2 = queued_window("https://two.example/");
  t->p1 = started_in(t->w1, &t->p2, &t->old);
  t->s.target = &t->moved;
  CHECK(pm_add_listener(t->w2, start_received, &t->s) > 0);
}

/* P goes from W1 to W2 in a window message. */
static void stage_transfer(stage *t) {
  CHECK_RC(pm_post_message_transfer(t->w1, t->w2, (const uint8_t *)"port", 4, "*", &t->p2, 1),
           PM_OK);
}

/* ---------------------------------------------------------------- tests */

/* The brief's case: m1, m2 queued in W1 for P; P goes to W2 (window post); m3 is posted while
 * P is in flight, m4 once it is started; draining W2 alone gives m1..m4 in order; W1 has
 * nothing left for P. */
static void test_window_transfer(void) {
  stage t;
  stage_open(&t);
  CHECK_RC(port_post(t.p1, "m1"), PM_OK);
  CHECK_RC(port_post(t.p1, "m2"), PM_OK);
  CHECK(pm_window_pending(t.w1) == 2);

  stage_transfer(&t);
  /* The waiting messages left W1's queue with the port. */
  CHECK(pm_window_pending(t.w1) == 0);
  CHECK_RC(port_post(t.p1, "m3"), PM_OK);
  CHECK(pm_window_run_pending(t.w2, 1) == 1); /* the window message: P starts in W2 */
  REQUIRE(t.s.port != NULL);
  CHECK_RC(port_post(t.p1, "m4"), PM_OK);
  CHECK(pm_window_pending(t.w2) == 4);
  CHECK(pm_window_run_pending(t.w2, SIZE_MAX) == 4);
  CHECK_STR(t.moved.log, "m1|m2|m3|m4|");
  CHECK(pm_window_run_pending(t.w1, SIZE_MAX) == 0);
  CHECK_STR(t.moved.log, "m1|m2|m3|m4|");
  CHECK(t.old.count == 0);

  CHECK_RC(pm_window_free(t.w1), PM_OK);
  CHECK_RC(pm_window_free(t.w2), PM_OK);
}

/* The same through a port post's transfer list, with the other messages of the old window
 * (a window message between m1 and m2) left where they were. */
static void test_port_post_transfer(void) {
  pm_window *w1 = queued_window("https://one.example/");
  pm_window *w2 = queued_window("https://two.example/");
  recorder old, moved, carrier;
  recorder_init(&old);
  recorder_init(&moved);
  recorder_init(&carrier);
  pm_port *p2 = NULL;
  pm_port *p1 = started_in(w1, &p2, &old);
  int window_msgs = 0;
  starter unused = {&carrier, NULL, 0};
  CHECK(pm_add_listener(w1, start_received, &unused) > 0);
  CHECK_RC(port_post(p1, "m1"), PM_OK);
  CHECK_RC(pm_test_post(w1, w1, "win", "*"), PM_OK);
  CHECK_RC(port_post(p1, "m2"), PM_OK);
  CHECK(pm_window_pending(w1) == 3);

  /* c2 lives (started) in W2; P travels in a message from c1 to it. */
  pm_port *c1 = NULL, *c2 = NULL;
  REQUIRE(pm_channel_new(w2, &c1, &c2) == PM_OK);
  CHECK(pm_port_add_listener(c2, port_record, &carrier) > 0);
  CHECK_RC(pm_port_post_message(c1, (const uint8_t *)"carry", 5, &p2, 1), PM_OK);
  CHECK(pm_window_pending(w1) == 1); /* only the window message stays */
  CHECK_RC(port_post(p1, "m3"), PM_OK);
  CHECK(pm_window_run_pending(w2, SIZE_MAX) == 1);
  REQUIRE(carrier.count == 1 && carrier.ports_len[0] == 1);
  CHECK(pm_port_add_listener(carrier.ports[0], port_record, &moved) > 0);
  CHECK(pm_window_run_pending(w2, SIZE_MAX) == 3);
  CHECK_STR(moved.log, "m1|m2|m3|");
  CHECK(pm_window_run_pending(w1, SIZE_MAX) == 1);
  window_msgs = unused.windows;
  CHECK(window_msgs == 1);
  CHECK_STR(moved.log, "m1|m2|m3|");
  CHECK(old.count == 0);

  CHECK_RC(pm_window_free(w1), PM_OK);
  CHECK_RC(pm_window_free(w2), PM_OK);
}

/* Waiting messages that carry ports move too (each with its ports, still usable), and W1 freed
 * after the transfer loses nothing of P's. */
static void test_ports_inside_and_old_window_freed(void) {
  stage t;
  stage_open(&t);
  pm_window *w0 = pm_window_new("https://zero.example/");
  REQUIRE(w0 != NULL);
  recorder inner;
  recorder_init(&inner);
  pm_port *q1 = NULL, *q2 = NULL;
  REQUIRE(pm_channel_new(w0, &q1, &q2) == PM_OK);
  CHECK_RC(port_post(t.p1, "m1"), PM_OK);
  CHECK_RC(pm_port_post_message(t.p1, (const uint8_t *)"with port", 9, &q2, 1), PM_OK);
  CHECK_RC(port_post(t.p1, "m3"), PM_OK);
  CHECK(pm_window_pending(t.w1) == 3);

  drops = 0;
  CHECK_RC(pm_set_drop_handler(count_drop, NULL), PM_OK);
  stage_transfer(&t);
  CHECK(pm_window_pending(t.w1) == 0);
  CHECK_RC(pm_window_free(t.w1), PM_OK); /* nothing of P's was there any more */
  CHECK(drops == 0);
  CHECK(pm_window_run_pending(t.w2, 1) == 1);
  REQUIRE(t.s.port != NULL);
  CHECK(pm_window_run_pending(t.w2, SIZE_MAX) == 3);
  CHECK_STR(t.moved.log, "m1|with port|m3|");
  CHECK(t.moved.ports_len[0] == 0 && t.moved.ports_len[1] == 1 && t.moved.ports_len[2] == 0);
  /* The port carried inside works in W2. */
  REQUIRE(t.moved.ports[1] != NULL);
  CHECK(pm_port_add_listener(t.moved.ports[1], port_record, &inner) > 0);
  CHECK_RC(port_post(q1, "through q"), PM_OK);
  CHECK(pm_window_run_pending(t.w2, SIZE_MAX) == 1);
  CHECK_STR(inner.log, "through q|");
  CHECK(drops == 0);
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);

  CHECK_RC(pm_window_free(t.w2), PM_OK);
  CHECK_RC(pm_window_free(w0), PM_OK);
}

/* Messages accepted once by W1's queue are not refused by W2's lower limit: they are delivered
 * in full; a new post beyond the limit is refused as usual. */
static void test_moved_messages_ignore_new_limit(void) {
  stage t;
  stage_open(&t);
  CHECK_RC(port_post(t.p1, "m1"), PM_OK);
  CHECK_RC(port_post(t.p1, "m2"), PM_OK);
  CHECK_RC(port_post(t.p1, "m3"), PM_OK);
  stage_transfer(&t);
  CHECK_RC(pm_window_set_queue_limit(t.w2, 1, 0), PM_OK);
  CHECK(pm_window_run_pending(t.w2, 1) == 1);
  REQUIRE(t.s.port != NULL);
  drops = 0;
  CHECK_RC(pm_set_drop_handler(count_drop, NULL), PM_OK);
  CHECK(pm_window_pending(t.w2) == 3);
  CHECK_RC(port_post(t.p1, "refused"), PM_ERR_QUEUE_FULL);
  CHECK(drops == 1);
  CHECK(pm_window_run_pending(t.w2, SIZE_MAX) == 3);
  CHECK_STR(t.moved.log, "m1|m2|m3|");
  CHECK_RC(port_post(t.p1, "m4"), PM_OK);
  CHECK(pm_window_run_pending(t.w2, SIZE_MAX) == 1);
  CHECK_STR(t.moved.log, "m1|m2|m3|m4|");
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);

  CHECK_RC(pm_window_free(t.w1), PM_OK);
  CHECK_RC(pm_window_free(t.w2), PM_OK);
}

/* A port closed after the transfer drops its moved messages (reported); they do not come back
 * from W1. */
static void test_closed_after_transfer(void) {
  stage t;
  stage_open(&t);
  CHECK_RC(port_post(t.p1, "m1"), PM_OK);
  CHECK_RC(port_post(t.p1, "m2"), PM_OK);
  stage_transfer(&t);
  CHECK(pm_window_run_pending(t.w2, 1) == 1);
  REQUIRE(t.s.port != NULL);
  drops = 0;
  CHECK_RC(pm_set_drop_handler(count_drop, NULL), PM_OK);
  CHECK_RC(pm_port_close(t.s.port), PM_OK);
  CHECK(pm_window_run_pending(t.w2, SIZE_MAX) == 2);
  CHECK(pm_window_run_pending(t.w1, SIZE_MAX) == 0);
  CHECK(t.moved.count == 0 && t.old.count == 0);
  CHECK(drops == 2);
  CHECK_RC(port_post(t.p1, "late"), PM_DROPPED);
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);

  CHECK_RC(pm_window_free(t.w1), PM_OK);
  CHECK_RC(pm_window_free(t.w2), PM_OK);
}

/* The new window goes before it takes the port: the port closes there, and its moved messages
 * are reported dropped then (with the window message that carried it), not left in W1. */
static void test_new_owner_gone(void) {
  stage t;
  stage_open(&t);
  CHECK_RC(port_post(t.p1, "m1"), PM_OK);
  CHECK_RC(port_post(t.p1, "m2"), PM_OK);
  stage_transfer(&t);
  drops = 0;
  CHECK_RC(pm_set_drop_handler(count_drop, NULL), PM_OK);
  CHECK_RC(pm_window_free(t.w2), PM_OK);
  CHECK(drops == 3);
  CHECK(pm_window_run_pending(t.w1, SIZE_MAX) == 0);
  CHECK(drops == 3);
  CHECK(t.old.count == 0 && t.s.windows == 0);
  CHECK_RC(port_post(t.p1, "late"), PM_DROPPED);
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(pm_window_free(t.w1), PM_OK);
}

/* P's own listener, running m1 in W1, transfers P: m2 and m3, still in W1's queue, go with
 * it (W1 runs only m1). */
static pm_window *self_w2;
static pm_port *self_moving;
static void transfer_self(const pm_message_event *event, void *user_data) {
  port_record(event, user_data);
  if (self_moving != NULL) {
    pm_port *t = self_moving;
    self_moving = NULL;
    CHECK_RC(pm_post_message_transfer(self_w2, self_w2, (const uint8_t *)"port", 4, "*", &t, 1),
             PM_OK);
  }
}

static void test_transfer_from_own_listener(void) {
  pm_window *w1 = queued_window("https://one.example/");
  self_w2 = queued_window("https://two.example/");
  recorder old, moved;
  recorder_init(&old);
  recorder_init(&moved);
  pm_port *p1 = NULL, *p2 = NULL;
  REQUIRE(pm_channel_new(w1, &p1, &p2) == PM_OK);
  CHECK(pm_port_add_listener(p2, transfer_self, &old) > 0);
  self_moving = p2;
  CHECK_RC(port_post(p1, "m1"), PM_OK);
  CHECK_RC(port_post(p1, "m2"), PM_OK);
  CHECK_RC(port_post(p1, "m3"), PM_OK);
  starter s = {&moved, NULL, 0};
  CHECK(pm_add_listener(self_w2, start_received, &s) > 0);
  CHECK(pm_window_run_pending(w1, SIZE_MAX) == 1);
  CHECK_STR(old.log, "m1|");
  CHECK_RC(port_post(p1, "m4"), PM_OK);
  CHECK(pm_window_run_pending(self_w2, SIZE_MAX) == 4);
  CHECK_STR(moved.log, "m2|m3|m4|");
  CHECK_STR(old.log, "m1|");
  CHECK_RC(pm_window_free(w1), PM_OK);
  CHECK_RC(pm_window_free(self_w2), PM_OK);
}

/* The drain remembers a port's listeners between its queued messages (qcore's memo). P's
 * listener, running m1 in W1, transfers P to W1 itself: m2 goes with P, W1's window listener
 * starts P again with a new listener and posts m3 to it, all within one run_pending (one
 * drain). m3 is data for the same port in the same window: the memo from m1 must not deliver
 * it to the old listener (the transfer bumped the port's version). */
static pm_window *memo_w;
static pm_port *memo_moving, *memo_sender;
static recorder memo_new;
static void memo_transfer(const pm_message_event *event, void *user_data) {
  port_record(event, user_data);
  if (memo_moving != NULL) {
    pm_port *t = memo_moving;
    memo_moving = NULL;
    CHECK_RC(pm_post_message_transfer(memo_w, memo_w, (const uint8_t *)"port", 4, "*", &t, 1),
             PM_OK);
  }
}
static void memo_restart(const pm_message_event *event, void *user_data) {
  (void)user_data;
  if (event->ports_len == 1) {
    CHECK(pm_port_add_listener(event->ports[0], port_record, &memo_new) > 0);
    CHECK_RC(port_post(memo_sender, "m3"), PM_OK);
  }
}

static void test_memo_never_delivers_to_a_moved_port(void) {
  memo_w = queued_window("https://one.example/");
  recorder old;
  recorder_init(&old);
  recorder_init(&memo_new);
  pm_port *p2 = NULL;
  REQUIRE(pm_channel_new(memo_w, &memo_sender, &p2) == PM_OK);
  CHECK(pm_port_add_listener(p2, memo_transfer, &old) > 0);
  CHECK(pm_add_listener(memo_w, memo_restart, NULL) > 0);
  memo_moving = p2;
  CHECK_RC(port_post(memo_sender, "m1"), PM_OK);
  CHECK_RC(port_post(memo_sender, "m2"), PM_OK);
  /* m1, the window message, m2 (queued again when P restarted), m3. */
  CHECK(pm_window_run_pending(memo_w, SIZE_MAX) == 4);
  CHECK(pm_window_pending(memo_w) == 0);
  CHECK_STR(old.log, "m1|");
  CHECK_STR(memo_new.log, "m2|m3|");
  CHECK_RC(pm_window_free(memo_w), PM_OK);
}

/* A SYNC window starts P with a, b, c waiting; a's listener posts d to P and then transfers it:
 * b and c (not yet delivered) go with P ahead of d, and nothing more runs in W1. */
static pm_window *sync_w2;
static pm_port *sync_moving, *sync_sender;
static void post_then_transfer(const pm_message_event *event, void *user_data) {
  port_record(event, user_data);
  if (sync_moving != NULL) {
    pm_port *t = sync_moving;
    sync_moving = NULL;
    CHECK_RC(port_post(sync_sender, "d"), PM_OK);
    CHECK_RC(pm_post_message_transfer(sync_w2, sync_w2, (const uint8_t *)"port", 4, "*", &t, 1),
             PM_OK);
  }
}

static void test_sync_drain_interrupted_by_transfer(void) {
  pm_window *w1 = pm_window_new("https://one.example/");
  sync_w2 = queued_window("https://two.example/");
  REQUIRE(w1 != NULL);
  recorder old, moved;
  recorder_init(&old);
  recorder_init(&moved);
  pm_port *p2 = NULL;
  REQUIRE(pm_channel_new(w1, &sync_sender, &p2) == PM_OK);
  CHECK_RC(port_post(sync_sender, "a"), PM_OK);
  CHECK_RC(port_post(sync_sender, "b"), PM_OK);
  CHECK_RC(port_post(sync_sender, "c"), PM_OK);
  starter s = {&moved, NULL, 0};
  CHECK(pm_add_listener(sync_w2, start_received, &s) > 0);
  sync_moving = p2;
  CHECK(pm_port_add_listener(p2, post_then_transfer, &old) > 0);
  CHECK_STR(old.log, "a|");
  CHECK(pm_window_run_pending(sync_w2, SIZE_MAX) == 4);
  CHECK_STR(moved.log, "b|c|d|");
  CHECK_STR(old.log, "a|");
  CHECK_RC(pm_window_free(w1), PM_OK);
  CHECK_RC(pm_window_free(sync_w2), PM_OK);
}

/* The same with a SYNC new window whose listener starts P: its drain runs inside
 * pm_port_add_listener there (nested in the old drain's listener) and delivers b and c at
 * once, in order; the old drain then finds nothing left. */
static pm_window *nested_w2;
static pm_port *nested_moving, *nested_sender;
static recorder nested_moved;
static int nested_in_add;
static void nested_start(const pm_message_event *event, void *user_data) {
  (void)user_data;
  if (event->ports_len == 1) {
    CHECK(pm_port_add_listener(event->ports[0], port_record, &nested_moved) > 0);
    nested_in_add = nested_moved.count;
  }
}
static void transfer_to_sync(const pm_message_event *event, void *user_data) {
  port_record(event, user_data);
  if (nested_moving != NULL) {
    pm_port *t = nested_moving;
    nested_moving = NULL;
    CHECK_RC(port_post(nested_sender, "d"), PM_OK);
    CHECK_RC(
        pm_post_message_transfer(nested_w2, nested_w2, (const uint8_t *)"port", 4, "*", &t, 1),
        PM_OK);
  }
}

static void test_sync_drain_moves_to_sync_window(void) {
  pm_window *w1 = pm_window_new("https://one.example/");
  nested_w2 = pm_window_new("https://two.example/");
  REQUIRE(w1 && nested_w2);
  recorder old;
  recorder_init(&old);
  recorder_init(&nested_moved);
  pm_port *p2 = NULL;
  REQUIRE(pm_channel_new(w1, &nested_sender, &p2) == PM_OK);
  CHECK_RC(port_post(nested_sender, "a"), PM_OK);
  CHECK_RC(port_post(nested_sender, "b"), PM_OK);
  CHECK_RC(port_post(nested_sender, "c"), PM_OK);
  CHECK(pm_add_listener(nested_w2, nested_start, NULL) > 0);
  nested_moving = p2;
  CHECK(pm_port_add_listener(p2, transfer_to_sync, &old) > 0);
  CHECK_STR(old.log, "a|");
  CHECK(nested_in_add == 3);
  CHECK_STR(nested_moved.log, "b|c|d|");
  CHECK_RC(port_post(nested_sender, "e"), PM_OK);
  CHECK_STR(nested_moved.log, "b|c|d|e|");
  CHECK_RC(pm_window_free(w1), PM_OK);
  CHECK_RC(pm_window_free(nested_w2), PM_OK);
}

/* ---------------------------------------------------------------- another process */

static pm_window *side_a, *side_b; /* a QUEUED window of side A, a SYNC window of side B */
static pm_window *proxy_a, *proxy_b;

static pm_result send_to_b(pm_window *proxy, const uint8_t *record, size_t len, void *user_data) {
  (void)proxy;
  (void)user_data;
  return pm_remote_deliver(side_b, proxy_a, record, len);
}

static pm_result send_to_a(pm_window *proxy, const uint8_t *record, size_t len, void *user_data) {
  (void)proxy;
  (void)user_data;
  return pm_remote_deliver(side_a, proxy_b, record, len);
}

/* P started in A's QUEUED window with m1, m2 queued there, then sent to B's proxy: B gets
 * m1, m2 first, then m3; A's queue has nothing left for P. */
static void test_transfer_to_another_process(void) {
  side_a = queued_window("http://127.0.0.1/");
  side_b = pm_window_new("http://localhost/");
  proxy_b = pm_remote_window_new(NULL, "http://localhost/", send_to_b, NULL, NULL);
  proxy_a = pm_remote_window_new(NULL, "http://127.0.0.1/", send_to_a, NULL, NULL);
  REQUIRE(side_b && proxy_a && proxy_b);
  recorder old, moved;
  recorder_init(&old);
  recorder_init(&moved);
  pm_port *p2 = NULL;
  pm_port *p1 = started_in(side_a, &p2, &old);
  CHECK_RC(port_post(p1, "m1"), PM_OK);
  CHECK_RC(port_post(p1, "m2"), PM_OK);
  CHECK(pm_window_pending(side_a) == 2);

  starter s = {&moved, NULL, 0};
  CHECK(pm_add_listener(side_b, start_received, &s) > 0);
  drops = 0;
  CHECK_RC(pm_set_drop_handler(count_drop, NULL), PM_OK);
  CHECK_RC(
      pm_post_message_transfer(side_a, proxy_b, (const uint8_t *)"port", 4, "*", &p2, 1),
      PM_OK);
  REQUIRE(s.port != NULL);
  CHECK(pm_window_pending(side_a) == 0);
  CHECK_STR(moved.log, "m1|m2|");
  CHECK_RC(port_post(p1, "m3"), PM_OK);
  CHECK_STR(moved.log, "m1|m2|m3|");
  CHECK(pm_window_run_pending(side_a, SIZE_MAX) == 0);
  CHECK_STR(moved.log, "m1|m2|m3|");
  CHECK(old.count == 0);
  CHECK(drops == 0);
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);

  CHECK_RC(pm_window_free(side_a), PM_OK);
  CHECK_RC(pm_window_free(side_b), PM_OK);
  CHECK_RC(pm_window_free(proxy_a), PM_OK);
  CHECK_RC(pm_window_free(proxy_b), PM_OK);
}

/* ---------------------------------------------------------------- stress */

#define MAX_ROUNDS 5000
#define POSTS 200000
#define POSTING_SECONDS 2.0 /* the poster stops earlier under valgrind */

static pm_port *stress_sender;
static atomic_int stress_done;
static atomic_long stress_posted, stress_refused, stress_drops;
static long stress_last, stress_received, stress_reordered, stress_gaps;
static pm_port *stress_current; /* the receiving port's handle now (main thread only) */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Posts 1, 2, ... POSTS (or for POSTING_SECONDS) to the moving port, yielding now and then so
 * that the transfers (and under valgrind, which runs one thread at a time, the main thread at
 * all) get their turns; a refused post (a queue full) is retried, so every accepted number must
 * arrive or be reported dropped. */
static void *stress_poster(void *arg) {
  (void)arg;
  char buf[32];
  long n = 1;
  double deadline = now_s() + POSTING_SECONDS;
  while (n <= POSTS) {
    if (n % 32 == 0) {
      sched_yield();
      if (now_s() > deadline) break;
    }
    int len = snprintf(buf, sizeof buf, "%ld", n);
    pm_result rc = pm_port_post_message(stress_sender, (const uint8_t *)buf, (size_t)len, NULL, 0);
    if (rc == PM_OK) {
      atomic_store(&stress_posted, n);
      n++;
    } else if (rc == PM_ERR_QUEUE_FULL) {
      /* the main thread must run first: sleep (valgrind's thread lock is not fair to yields) */
      atomic_fetch_add(&stress_refused, 1);
      struct timespec pause = {0, 50000};
      nanosleep(&pause, NULL);
      if (now_s() > deadline) break;
    } else {
      CHECK_RC(rc, PM_OK);
      break;
    }
  }
  atomic_store(&stress_done, 1);
  return NULL;
}

static void stress_count_drop(const pm_drop_event *event, void *user_data) {
  (void)event;
  (void)user_data;
  atomic_fetch_add(&stress_drops, 1);
}

static void stress_record(const pm_message_event *event, void *user_data) {
  (void)user_data;
  char buf[32];
  size_t n = event->data_len < sizeof buf - 1 ? event->data_len : sizeof buf - 1;
  memcpy(buf, event->data, n);
  buf[n] = '\0';
  long got = strtol(buf, NULL, 10);
  if (got <= stress_last) {
    if (stress_reordered++ == 0)
      fprintf(stderr, "    first reorder: %ld after %ld\n", got, stress_last);
  } else if (got != stress_last + 1) {
    stress_gaps++;
  }
  stress_last = got;
  stress_received++;
}

static void stress_adopt(const pm_message_event *event, void *user_data) {
  (void)user_data;
  if (event->ports_len == 1) {
    stress_current = event->ports[0];
    CHECK(pm_port_add_listener(stress_current, stress_record, NULL) > 0);
  }
}

/* One thread posts to P without pause while this one moves P back and forth between two
 * QUEUED windows, draining them in alternating order: the numbers arrive in order, and every
 * accepted one arrives or is reported dropped (a message that waited in the port while it was
 * in flight may find the new window's queue full when the port starts, as any message waiting
 * for a port to start). */
static void test_stress_transfer_while_posting(void) {
  pm_window *w[2] = {queued_window("https://one.example/"), queued_window("https://two.example/")};
  for (int i = 0; i < 2; i++) CHECK(pm_add_listener(w[i], stress_adopt, NULL) > 0);
  pm_port *p2 = NULL;
  REQUIRE(pm_channel_new(w[0], &stress_sender, &p2) == PM_OK);
  stress_current = p2;
  CHECK(pm_port_add_listener(p2, stress_record, NULL) > 0);
  CHECK_RC(pm_set_drop_handler(stress_count_drop, NULL), PM_OK);
  pthread_t poster;
  REQUIRE(pthread_create(&poster, NULL, stress_poster, NULL) == 0);
  int at = 0, rounds = 0;
  for (int round = 0; round < MAX_ROUNDS && !atomic_load(&stress_done); round++, rounds++) {
    /* let some messages queue up in the current window first */
    for (int spin = 0; spin < 4; spin++) sched_yield();
    pm_port *moving = stress_current;
    CHECK_RC(pm_post_message_transfer(w[at], w[1 - at], (const uint8_t *)"p", 1, "*", &moving, 1),
             PM_OK);
    at = 1 - at;
    /* the old window first on even rounds, the new one first on odd rounds */
    pm_window_run_pending(w[(round & 1) ? at : 1 - at], SIZE_MAX);
    pm_window_run_pending(w[(round & 1) ? 1 - at : at], SIZE_MAX);
  }
  pthread_join(poster, NULL);
  for (int i = 0; i < 4; i++) {
    pm_window_run_pending(w[0], SIZE_MAX);
    pm_window_run_pending(w[1], SIZE_MAX);
  }
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  long posted = atomic_load(&stress_posted);
  long dropped = atomic_load(&stress_drops) - atomic_load(&stress_refused);
  CHECK(posted > 0);
  CHECK(rounds > 0);
  CHECK(stress_reordered == 0);
  CHECK(stress_received + dropped == posted);
  CHECK(stress_last == posted || dropped > 0);
  printf("stress: %d transfers, %ld posted, %ld received, %ld dropped (in %ld gaps), %ld "
         "refused and retried\n",
         rounds, posted, stress_received, dropped, stress_gaps, atomic_load(&stress_refused));
  CHECK_RC(pm_window_free(w[0]), PM_OK);
  CHECK_RC(pm_window_free(w[1]), PM_OK);
}

int main(void) {
  test_window_transfer();
  test_port_post_transfer();
  test_ports_inside_and_old_window_freed();
  test_moved_messages_ignore_new_limit();
  test_closed_after_transfer();
  test_new_owner_gone();
  test_transfer_from_own_listener();
  test_memo_never_delivers_to_a_moved_port();
  test_sync_drain_interrupted_by_transfer();
  test_sync_drain_moves_to_sync_window();
  test_transfer_to_another_process();
  test_stress_transfer_while_posting();
  TEST_EXIT("test_port_order");
}
