/* MessageChannel and MessagePort: pm_channel_new, messages waiting until the first listener
 * starts a port, port event fields, transferring ports with window and port posts (and along a
 * chain), DataCloneError cases, dropped posts closing their ports, a closed partner, ports closed
 * with their window, port delivery through a queued window, and the dispatch depth. Written
 * against /work/shared/API.md ("Channel messaging and broadcast"). */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>

#include "check.h"

/* ---------------------------------------------------------------- helpers */

#define MAX_KEPT 8

typedef struct {
  int count;
  char log[4096];
  int bad_fields;           /* port events: origin "", source/target NULL, last_event_id "" */
  int window_bad_fields;    /* window events: checked against expected_* below */
  pm_window *expected_source;
  pm_window *expected_target;
  size_t last_ports_len;
  pm_port *kept[MAX_KEPT]; /* ports received, in order */
  int kept_len;
} recorder;

static void recorder_init(recorder *r) { memset(r, 0, sizeof *r); }

static void append(recorder *r, const pm_message_event *event) {
  r->count++;
  size_t n = strlen(r->log);
  if (n + event->data_len + 2 < sizeof r->log) {
    memcpy(r->log + n, event->data, event->data_len);
    r->log[n + event->data_len] = '|';
    r->log[n + event->data_len + 1] = '\0';
  }
  r->last_ports_len = event->ports_len;
  for (size_t i = 0; i < event->ports_len && r->kept_len < MAX_KEPT; i++)
    r->kept[r->kept_len++] = event->ports[i];
}

/* For port listeners. */
static void port_record(const pm_message_event *event, void *user_data) {
  recorder *r = user_data;
  append(r, event);
  if (event->origin == NULL || strcmp(event->origin, "") != 0) r->bad_fields++;
  if (event->source != NULL || event->target != NULL) r->bad_fields++;
  if (event->last_event_id == NULL || strcmp(event->last_event_id, "") != 0) r->bad_fields++;
  if (event->data == NULL) r->bad_fields++;
}

/* For window listeners. */
static void window_record(const pm_message_event *event, void *user_data) {
  recorder *r = user_data;
  append(r, event);
  if (event->source != r->expected_source || event->target != r->expected_target)
    r->window_bad_fields++;
}

static pm_result port_post(pm_port *port, const char *text) {
  return pm_port_post_message(port, (const uint8_t *)text, strlen(text), NULL, 0);
}

static void ignore(const pm_message_event *event, void *user_data) {
  (void)event;
  (void)user_data;
}

/* A port is dead when every function rejects its handle. */
static int port_is_invalid(pm_port *port) {
  return pm_port_post_message(port, (const uint8_t *)"x", 1, NULL, 0) == PM_ERR_INVALID_HANDLE &&
         pm_port_add_listener(port, ignore, NULL) == 0 &&
         pm_port_remove_listener(port, 1) == PM_ERR_INVALID_HANDLE;
}

/* ---------------------------------------------------------------- basics */

static void test_channel_new(void) {
  pm_window *w = pm_window_new("https://app.example/");
  REQUIRE(w);
  pm_port *p1 = NULL, *p2 = NULL;
  CHECK_RC(pm_channel_new(w, &p1, &p2), PM_OK);
  CHECK(p1 != NULL && p2 != NULL && p1 != p2);

  pm_port *sentinel = (pm_port *)(uintptr_t)0x1234u;
  pm_port *a = sentinel, *b = sentinel;
  CHECK_RC(pm_channel_new(NULL, &a, &b), PM_ERR_NULL_ARGUMENT);
  CHECK_HAS_ERROR();
  CHECK(a == sentinel && b == sentinel);
  CHECK_RC(pm_channel_new(w, NULL, &b), PM_ERR_NULL_ARGUMENT);
  CHECK(b == sentinel);
  CHECK_RC(pm_channel_new(w, &a, NULL), PM_ERR_NULL_ARGUMENT);
  CHECK(a == sentinel);
  pm_window *gone = pm_window_new("https://gone.example/");
  REQUIRE(gone);
  CHECK_RC(pm_window_free(gone), PM_OK);
  CHECK_RC(pm_channel_new(gone, &a, &b), PM_ERR_INVALID_HANDLE);
  CHECK(a == sentinel && b == sentinel);

  /* NULL and bad handles for the port functions */
  CHECK_RC(pm_port_post_message(NULL, NULL, 0, NULL, 0), PM_ERR_NULL_ARGUMENT);
  CHECK(pm_port_add_listener(NULL, port_record, NULL) == 0);
  CHECK(pm_port_add_listener(p1, NULL, NULL) == 0);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_port_remove_listener(NULL, 1), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_port_close(NULL), PM_OK); /* destructors: NULL is a no-op */
  CHECK(port_is_invalid((pm_port *)(uintptr_t)0xbadbad0u));
  CHECK_RC(pm_port_close((pm_port *)(uintptr_t)0xbadbad0u), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"x", 1, NULL, 1), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_port_post_message(p1, NULL, 1, NULL, 0), PM_ERR_NULL_ARGUMENT);

  /* close twice */
  CHECK_RC(pm_port_close(p1), PM_OK);
  CHECK_RC(pm_port_close(p1), PM_ERR_INVALID_HANDLE);
  CHECK_HAS_ERROR();
  CHECK(port_is_invalid(p1));
  /* partner closed: a post is dropped */
  CHECK_RC(port_post(p2, "to nobody"), PM_DROPPED);
  CHECK_RC(pm_port_close(p2), PM_OK);
  CHECK_RC(pm_port_close(p2), PM_ERR_INVALID_HANDLE);

  CHECK_RC(pm_window_free(w), PM_OK);
}

static void test_messages_wait_until_started(void) {
  pm_window *w = pm_window_new("https://app.example/");
  REQUIRE(w);
  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(w, &p1, &p2) == PM_OK);

  CHECK_RC(port_post(p1, "a"), PM_OK);
  CHECK_RC(port_post(p1, "b"), PM_OK);
  CHECK_RC(pm_port_post_message(p1, NULL, 0, NULL, 0), PM_OK);
  CHECK_RC(port_post(p1, "c"), PM_OK);

  recorder first, second;
  recorder_init(&first);
  recorder_init(&second);
  uint64_t id1 = pm_port_add_listener(p2, port_record, &first); /* starts p2: delivered inside */
  CHECK(id1 > 0);
  CHECK(first.count == 4);
  CHECK_STR(first.log, "a|b||c|");
  CHECK(first.bad_fields == 0);
  CHECK(first.last_ports_len == 0);

  uint64_t id2 = pm_port_add_listener(p2, port_record, &second); /* already started: nothing */
  CHECK(id2 > 0 && id2 != id1);
  CHECK(second.count == 0);
  CHECK_RC(port_post(p1, "d"), PM_OK); /* SYNC: both listeners, in order, inside the post */
  CHECK_STR(first.log, "a|b||c|d|");
  CHECK_STR(second.log, "d|");

  CHECK_RC(pm_port_remove_listener(p2, id1), PM_OK);
  CHECK_RC(pm_port_remove_listener(p2, id1), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_port_remove_listener(p2, 987654321), PM_ERR_INVALID_HANDLE);
  CHECK_RC(port_post(p1, "e"), PM_OK);
  CHECK_STR(first.log, "a|b||c|d|");
  CHECK_STR(second.log, "d|e|");

  /* the other direction; p1 is not started yet */
  recorder back;
  recorder_init(&back);
  CHECK_RC(port_post(p2, "r1"), PM_OK);
  CHECK_RC(port_post(p2, "r2"), PM_OK);
  CHECK(pm_port_add_listener(p1, port_record, &back) > 0);
  CHECK_STR(back.log, "r1|r2|");
  CHECK(back.bad_fields == 0 && second.bad_fields == 0);

  /* a listener id of one port is not one of another port */
  pm_port *q1, *q2;
  REQUIRE(pm_channel_new(w, &q1, &q2) == PM_OK);
  CHECK_RC(pm_port_remove_listener(q1, id2), PM_ERR_INVALID_HANDLE);

  CHECK_RC(pm_port_close(q1), PM_OK);
  CHECK_RC(pm_port_close(q2), PM_OK);
  CHECK_RC(pm_port_close(p1), PM_OK);
  CHECK_RC(pm_port_close(p2), PM_OK);
  CHECK_RC(pm_window_free(w), PM_OK);
}

/* ---------------------------------------------------------------- transfer */

typedef struct {
  recorder rec;
  recorder port_rec;   /* listener this frame adds to the port it received */
  pm_port *port;       /* the received port */
  pm_result reply_rc;
  uint64_t port_listener;
} frame_state;

static void frame_receives_port(const pm_message_event *event, void *user_data) {
  frame_state *f = user_data;
  window_record(event, &f->rec);
  if (event->ports_len == 1) {
    f->port = event->ports[0];
    /* the receiver can use it at once, from inside the listener */
    f->port_listener = pm_port_add_listener(f->port, port_record, &f->port_rec);
    f->reply_rc = port_post(f->port, "hello from the frame");
  }
}

static void test_transfer_with_window_post(void) {
  pm_window *page = pm_window_new("http://127.0.0.1/");
  REQUIRE(page);
  pm_window *frame = pm_window_new_child(page, "http://localhost/frame");
  REQUIRE(frame);
  frame_state f;
  memset(&f, 0, sizeof f);
  f.rec.expected_source = page;
  f.rec.expected_target = frame;
  CHECK(pm_add_listener(frame, frame_receives_port, &f) > 0);

  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(page, &p1, &p2) == PM_OK);
  recorder page_port;
  recorder_init(&page_port);
  CHECK(pm_port_add_listener(p1, port_record, &page_port) > 0);

  pm_port *transfer[] = {p2};
  CHECK_RC(pm_post_message_transfer(page, frame, (const uint8_t *)"port", 4, "http://localhost",
                                    transfer, 1),
           PM_OK);
  CHECK(f.rec.count == 1);
  CHECK_STR(f.rec.log, "port|");
  CHECK(f.rec.window_bad_fields == 0);
  CHECK(f.rec.last_ports_len == 1);
  REQUIRE(f.port != NULL);
  CHECK(f.port != p2); /* a new handle */
  CHECK(f.port_listener > 0);
  CHECK_RC(f.reply_rc, PM_OK);
  CHECK_STR(page_port.log, "hello from the frame|");

  /* the sender's handle is gone */
  CHECK(port_is_invalid(p2));
  CHECK_RC(pm_port_close(p2), PM_ERR_INVALID_HANDLE);
  /* and cannot be transferred again */
  CHECK_RC(pm_post_message_transfer(page, frame, (const uint8_t *)"again", 5, "*", transfer, 1),
           PM_ERR_DATA_CLONE);
  CHECK(f.rec.count == 1);

  /* both sides talk */
  CHECK_RC(port_post(p1, "ping"), PM_OK);
  CHECK_STR(f.port_rec.log, "ping|");
  CHECK(f.port_rec.bad_fields == 0);
  CHECK_RC(port_post(f.port, "pong"), PM_OK);
  CHECK_STR(page_port.log, "hello from the frame|pong|");

  /* the received port belongs to the frame: freeing the frame closes it */
  CHECK_RC(pm_window_free(frame), PM_OK);
  CHECK(port_is_invalid(f.port));
  CHECK_RC(port_post(p1, "after frame freed"), PM_DROPPED);
  /* p1 still belongs to the page */
  CHECK_RC(pm_port_close(p1), PM_OK);
  CHECK_RC(pm_window_free(page), PM_OK);
}

/* Transferring several ports at once; the order is kept. */
static void test_transfer_several(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(a && b);
  recorder rb;
  recorder_init(&rb);
  rb.expected_source = a;
  rb.expected_target = b;
  CHECK(pm_add_listener(b, window_record, &rb) > 0);
  pm_port *x1, *x2, *y1, *y2;
  REQUIRE(pm_channel_new(a, &x1, &x2) == PM_OK);
  REQUIRE(pm_channel_new(a, &y1, &y2) == PM_OK);
  pm_port *transfer[] = {y2, x2};
  CHECK_RC(pm_post_message_transfer(a, b, (const uint8_t *)"two", 3, "*", transfer, 2), PM_OK);
  CHECK(rb.last_ports_len == 2);
  REQUIRE(rb.kept_len == 2);
  recorder rx, ry;
  recorder_init(&rx);
  recorder_init(&ry);
  CHECK(pm_port_add_listener(rb.kept[0], port_record, &ry) > 0);
  CHECK(pm_port_add_listener(rb.kept[1], port_record, &rx) > 0);
  CHECK_RC(port_post(y1, "to y"), PM_OK);
  CHECK_RC(port_post(x1, "to x"), PM_OK);
  CHECK_STR(ry.log, "to y|");
  CHECK_STR(rx.log, "to x|");
  CHECK(port_is_invalid(x2) && port_is_invalid(y2));

  /* a window with no listener still receives (and owns) the ports */
  pm_window *deaf = pm_window_new("http://deaf.example/");
  REQUIRE(deaf);
  pm_port *z1, *z2;
  REQUIRE(pm_channel_new(a, &z1, &z2) == PM_OK);
  pm_port *tz[] = {z2};
  CHECK_RC(pm_post_message_transfer(a, deaf, NULL, 0, "*", tz, 1), PM_OK);
  CHECK(port_is_invalid(z2));
  CHECK_RC(port_post(z1, "waits in the deaf window's port"), PM_OK);
  CHECK_RC(pm_window_free(deaf), PM_OK); /* closes it, with its waiting message */
  CHECK_RC(port_post(z1, "partner gone"), PM_DROPPED);

  CHECK_RC(pm_window_free(a), PM_OK); /* closes x1, y1, z1 */
  CHECK(port_is_invalid(x1) && port_is_invalid(y1) && port_is_invalid(z1));
  CHECK_RC(port_post(rb.kept[0], "partner gone"), PM_DROPPED);
  CHECK_RC(pm_window_free(b), PM_OK);
  CHECK(port_is_invalid(rb.kept[0]) && port_is_invalid(rb.kept[1]));
}

/* A port's waiting messages travel with it; the listeners of the old handle stay behind. */
static void test_transfer_keeps_waiting_messages(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(a && b);
  recorder rb;
  recorder_init(&rb);
  rb.expected_source = a;
  rb.expected_target = b;
  CHECK(pm_add_listener(b, window_record, &rb) > 0);

  /* not started: the waiting messages go along */
  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(a, &p1, &p2) == PM_OK);
  CHECK_RC(port_post(p1, "w1"), PM_OK);
  CHECK_RC(port_post(p1, "w2"), PM_OK);
  pm_port *t[] = {p2};
  CHECK_RC(pm_post_message_transfer(a, b, NULL, 0, "*", t, 1), PM_OK);
  REQUIRE(rb.kept_len == 1);
  CHECK_RC(port_post(p1, "w3"), PM_OK);
  recorder rnew;
  recorder_init(&rnew);
  CHECK(pm_port_add_listener(rb.kept[0], port_record, &rnew) > 0);
  CHECK_STR(rnew.log, "w1|w2|w3|");

  /* started: the old handle's listener hears nothing more; the new handle gets the messages */
  pm_port *s1, *s2;
  REQUIRE(pm_channel_new(a, &s1, &s2) == PM_OK);
  recorder rold;
  recorder_init(&rold);
  CHECK(pm_port_add_listener(s2, port_record, &rold) > 0);
  CHECK_RC(port_post(s1, "before"), PM_OK);
  CHECK_STR(rold.log, "before|");
  pm_port *ts[] = {s2};
  CHECK_RC(pm_post_message_transfer(a, b, NULL, 0, "*", ts, 1), PM_OK);
  REQUIRE(rb.kept_len == 2);
  CHECK_RC(port_post(s1, "after"), PM_OK);
  CHECK_STR(rold.log, "before|");
  recorder rmoved;
  recorder_init(&rmoved);
  CHECK(pm_port_add_listener(rb.kept[1], port_record, &rmoved) > 0);
  CHECK_STR(rmoved.log, "after|");

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

static void test_transfer_with_port_post(void) {
  pm_window *w = pm_window_new("https://app.example/");
  REQUIRE(w);
  pm_port *a1, *a2, *b1, *b2;
  REQUIRE(pm_channel_new(w, &a1, &a2) == PM_OK);
  REQUIRE(pm_channel_new(w, &b1, &b2) == PM_OK);
  recorder ra2;
  recorder_init(&ra2);
  CHECK(pm_port_add_listener(a2, port_record, &ra2) > 0);
  recorder rb1;
  recorder_init(&rb1);
  CHECK(pm_port_add_listener(b1, port_record, &rb1) > 0);

  pm_port *transfer[] = {b2};
  CHECK_RC(pm_port_post_message(a1, (const uint8_t *)"carry", 5, transfer, 1), PM_OK);
  CHECK_STR(ra2.log, "carry|");
  CHECK(ra2.bad_fields == 0);
  REQUIRE(ra2.kept_len == 1);
  pm_port *received = ra2.kept[0];
  CHECK(received != b2);
  CHECK(port_is_invalid(b2));
  CHECK_RC(port_post(received, "via received"), PM_OK);
  CHECK_STR(rb1.log, "via received|");
  recorder rrecv;
  recorder_init(&rrecv);
  CHECK(pm_port_add_listener(received, port_record, &rrecv) > 0);
  CHECK_RC(port_post(b1, "back"), PM_OK);
  CHECK_STR(rrecv.log, "back|");

  CHECK_RC(pm_port_close(received), PM_OK);
  CHECK_RC(port_post(b1, "gone"), PM_DROPPED);
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK(port_is_invalid(a1) && port_is_invalid(a2) && port_is_invalid(b1));
}

/* A port transferred in a port post belongs to the receiving port's window. */
static void test_port_post_transfer_ownership(void) {
  pm_window *w1 = pm_window_new("https://one.example/");
  pm_window *w2 = pm_window_new("https://two.example/");
  REQUIRE(w1 && w2);
  recorder rw2;
  recorder_init(&rw2);
  rw2.expected_source = w1;
  rw2.expected_target = w2;
  CHECK(pm_add_listener(w2, window_record, &rw2) > 0);
  /* x1 in w1, x2 moved to w2 */
  pm_port *x1, *x2, *y1, *y2;
  REQUIRE(pm_channel_new(w1, &x1, &x2) == PM_OK);
  REQUIRE(pm_channel_new(w1, &y1, &y2) == PM_OK);
  pm_port *tx[] = {x2};
  CHECK_RC(pm_post_message_transfer(w1, w2, NULL, 0, "*", tx, 1), PM_OK);
  REQUIRE(rw2.kept_len == 1);
  pm_port *x2_in_w2 = rw2.kept[0];
  recorder rx2;
  recorder_init(&rx2);
  CHECK(pm_port_add_listener(x2_in_w2, port_record, &rx2) > 0);
  /* w1 sends y2 over x1: it now belongs to w2 */
  pm_port *ty[] = {y2};
  CHECK_RC(pm_port_post_message(x1, (const uint8_t *)"y", 1, ty, 1), PM_OK);
  REQUIRE(rx2.kept_len == 1);
  pm_port *y2_in_w2 = rx2.kept[0];
  recorder ry2;
  recorder_init(&ry2);
  CHECK(pm_port_add_listener(y2_in_w2, port_record, &ry2) > 0);
  CHECK_RC(port_post(y1, "still open"), PM_OK);
  CHECK_STR(ry2.log, "still open|");
  /* freeing w2 closes it; y1 (w1's) stays */
  CHECK_RC(pm_window_free(w2), PM_OK);
  CHECK(port_is_invalid(y2_in_w2) && port_is_invalid(x2_in_w2));
  CHECK_RC(port_post(y1, "gone"), PM_DROPPED);
  CHECK_RC(pm_port_close(y1), PM_OK);
  CHECK_RC(pm_port_close(x1), PM_OK);
  CHECK_RC(pm_window_free(w1), PM_OK);
}

/* Both ends of one channel may travel in the same message; they stay entangled. */
static void test_transfer_both_ends(void) {
  pm_window *a = pm_window_new("https://a.example/");
  pm_window *b = pm_window_new("https://b.example/");
  REQUIRE(a && b);
  recorder rb;
  recorder_init(&rb);
  rb.expected_source = a;
  rb.expected_target = b;
  CHECK(pm_add_listener(b, window_record, &rb) > 0);
  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(a, &p1, &p2) == PM_OK);
  CHECK_RC(port_post(p1, "early"), PM_OK); /* waits in p2, travels with it */
  pm_port *both[] = {p1, p2};
  CHECK_RC(pm_post_message_transfer(a, b, NULL, 0, "*", both, 2), PM_OK);
  REQUIRE(rb.kept_len == 2);
  recorder r1, r2;
  recorder_init(&r1);
  recorder_init(&r2);
  CHECK(pm_port_add_listener(rb.kept[0], port_record, &r1) > 0);
  CHECK(pm_port_add_listener(rb.kept[1], port_record, &r2) > 0);
  CHECK_STR(r2.log, "early|");
  CHECK_RC(port_post(rb.kept[0], "one to two"), PM_OK);
  CHECK_RC(port_post(rb.kept[1], "two to one"), PM_OK);
  CHECK_STR(r2.log, "early|one to two|");
  CHECK_STR(r1.log, "two to one|");
  CHECK(port_is_invalid(p1) && port_is_invalid(p2));
  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

/* ---------------------------------------------------------------- DataCloneError */

static void test_data_clone_errors(void) {
  pm_window *w = pm_window_new("https://app.example/");
  pm_window *t = pm_window_new("https://t.example/");
  REQUIRE(w && t);
  recorder rt;
  recorder_init(&rt);
  rt.expected_source = w;
  rt.expected_target = t;
  CHECK(pm_add_listener(t, window_record, &rt) > 0);

  pm_port *a1, *a2, *b1, *b2, *c1, *c2;
  REQUIRE(pm_channel_new(w, &a1, &a2) == PM_OK);
  REQUIRE(pm_channel_new(w, &b1, &b2) == PM_OK);
  REQUIRE(pm_channel_new(w, &c1, &c2) == PM_OK);
  recorder ra2;
  recorder_init(&ra2);
  CHECK(pm_port_add_listener(a2, port_record, &ra2) > 0);

  /* the sending port itself */
  pm_port *self_list[] = {b1, a1};
  CHECK_RC(pm_port_post_message(a1, (const uint8_t *)"m", 1, self_list, 2), PM_ERR_DATA_CLONE);
  CHECK_HAS_ERROR();
  /* its partner (documented in the header) */
  pm_port *partner_list[] = {b1, a2};
  CHECK_RC(pm_port_post_message(a1, (const uint8_t *)"m", 1, partner_list, 2), PM_ERR_DATA_CLONE);
  /* a duplicate */
  pm_port *dup_list[] = {c1, b1, b1};
  CHECK_RC(pm_port_post_message(a1, (const uint8_t *)"m", 1, dup_list, 3), PM_ERR_DATA_CLONE);
  CHECK_RC(pm_post_message_transfer(w, t, (const uint8_t *)"m", 1, "*", dup_list, 3),
           PM_ERR_DATA_CLONE);
  /* a closed port */
  pm_port *d1, *d2;
  REQUIRE(pm_channel_new(w, &d1, &d2) == PM_OK);
  CHECK_RC(pm_port_close(d2), PM_OK);
  pm_port *closed_list[] = {b1, d2};
  CHECK_RC(pm_port_post_message(a1, (const uint8_t *)"m", 1, closed_list, 2), PM_ERR_DATA_CLONE);
  CHECK_RC(pm_post_message_transfer(w, t, (const uint8_t *)"m", 1, "*", closed_list, 2),
           PM_ERR_DATA_CLONE);
  /* a port freed with its window */
  pm_window *other = pm_window_new("https://other.example/");
  REQUIRE(other);
  pm_port *e1, *e2;
  REQUIRE(pm_channel_new(other, &e1, &e2) == PM_OK);
  CHECK_RC(pm_window_free(other), PM_OK);
  pm_port *freed_list[] = {b1, e1};
  CHECK_RC(pm_port_post_message(a1, (const uint8_t *)"m", 1, freed_list, 2), PM_ERR_DATA_CLONE);
  CHECK_RC(pm_post_message_transfer(w, t, (const uint8_t *)"m", 1, "*", freed_list, 2),
           PM_ERR_DATA_CLONE);
  /* an unknown port */
  pm_port *unknown_list[] = {b1, (pm_port *)(uintptr_t)0x7777770u};
  CHECK_RC(pm_port_post_message(a1, (const uint8_t *)"m", 1, unknown_list, 2), PM_ERR_DATA_CLONE);
  CHECK_RC(pm_post_message_transfer(w, t, (const uint8_t *)"m", 1, "*", unknown_list, 2),
           PM_ERR_DATA_CLONE);
  /* a NULL entry */
  pm_port *null_list[] = {b1, NULL};
  CHECK_RC(pm_port_post_message(a1, (const uint8_t *)"m", 1, null_list, 2), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_post_message_transfer(w, t, (const uint8_t *)"m", 1, "*", null_list, 2),
           PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_post_message_transfer(w, t, (const uint8_t *)"m", 1, "*", NULL, 1),
           PM_ERR_NULL_ARGUMENT);
  /* a window post's syntax error also transfers nothing */
  pm_port *ok_list[] = {b1};
  CHECK_RC(pm_post_message_transfer(w, t, (const uint8_t *)"m", 1, "no-url", ok_list, 1),
           PM_ERR_SYNTAX);

  /* nothing was posted or transferred */
  CHECK(ra2.count == 0);
  CHECK(rt.count == 0);
  recorder rb2, rc2, rb1;
  recorder_init(&rb2);
  recorder_init(&rc2);
  recorder_init(&rb1);
  CHECK(pm_port_add_listener(b2, port_record, &rb2) > 0);
  CHECK(pm_port_add_listener(c2, port_record, &rc2) > 0);
  CHECK(pm_port_add_listener(b1, port_record, &rb1) > 0);
  CHECK_RC(port_post(b1, "b still here"), PM_OK);
  CHECK_RC(port_post(c1, "c still here"), PM_OK);
  CHECK_RC(port_post(b2, "b2 still here"), PM_OK);
  CHECK_STR(rb2.log, "b still here|");
  CHECK_STR(rc2.log, "c still here|");
  CHECK_STR(rb1.log, "b2 still here|");

  /* and a good transfer works afterwards */
  CHECK_RC(pm_port_post_message(a1, (const uint8_t *)"ok", 2, ok_list, 1), PM_OK);
  CHECK_STR(ra2.log, "ok|");
  CHECK(port_is_invalid(b1));

  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK_RC(pm_window_free(t), PM_OK);
}

/* ---------------------------------------------------------------- drops close ports */

static void test_dropped_post_closes_ports(void) {
  pm_window *page = pm_window_new("http://127.0.0.1/");
  pm_window *frame = pm_window_new("http://localhost/");
  REQUIRE(page && frame);
  recorder rf;
  recorder_init(&rf);
  rf.expected_source = page;
  rf.expected_target = frame;
  CHECK(pm_add_listener(frame, window_record, &rf) > 0);

  /* SYNC: origin mismatch */
  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(page, &p1, &p2) == PM_OK);
  pm_port *tr[] = {p2};
  CHECK_RC(pm_post_message_transfer(page, frame, (const uint8_t *)"x", 1, "https://wrong.example",
                                    tr, 1),
           PM_DROPPED);
  CHECK(rf.count == 0);
  CHECK(port_is_invalid(p2));
  CHECK_RC(port_post(p1, "to the closed port"), PM_DROPPED);
  CHECK_RC(pm_port_close(p1), PM_OK);

  /* QUEUED: the mismatch is found at delivery; the ports are closed then */
  CHECK_RC(pm_window_set_dispatch_mode(frame, PM_DISPATCH_QUEUED), PM_OK);
  pm_port *q1, *q2;
  REQUIRE(pm_channel_new(page, &q1, &q2) == PM_OK);
  pm_port *tq[] = {q2};
  CHECK_RC(pm_post_message_transfer(page, frame, (const uint8_t *)"y", 1, "https://wrong.example",
                                    tq, 1),
           PM_OK);
  CHECK(port_is_invalid(q2)); /* taken from the sender at once */
  CHECK(pm_window_run_pending(frame, SIZE_MAX) == 1);
  CHECK(rf.count == 0);
  CHECK_RC(port_post(q1, "to the closed port"), PM_DROPPED);
  CHECK_RC(pm_port_close(q1), PM_OK);

  /* QUEUED: a message discarded by navigation closes its ports too */
  pm_port *n1, *n2;
  REQUIRE(pm_channel_new(page, &n1, &n2) == PM_OK);
  pm_port *tn[] = {n2};
  CHECK_RC(pm_post_message_transfer(page, frame, (const uint8_t *)"z", 1, "*", tn, 1), PM_OK);
  CHECK_RC(pm_window_navigate(frame, "http://localhost/next"), PM_OK);
  CHECK_RC(port_post(n1, "to the closed port"), PM_DROPPED);
  CHECK_RC(pm_port_close(n1), PM_OK);

  /* QUEUED: refused with PM_ERR_QUEUE_FULL: nothing transferred, the port stays the sender's */
  CHECK_RC(pm_window_set_queue_limit(frame, 1, 0), PM_OK);
  CHECK_RC(pm_test_post(page, frame, "filler", "*"), PM_OK);
  pm_port *f1, *f2;
  REQUIRE(pm_channel_new(page, &f1, &f2) == PM_OK);
  pm_port *tf[] = {f2};
  CHECK_RC(pm_post_message_transfer(page, frame, (const uint8_t *)"full", 4, "*", tf, 1),
           PM_ERR_QUEUE_FULL);
  recorder rf2;
  recorder_init(&rf2);
  CHECK(pm_port_add_listener(f2, port_record, &rf2) > 0);
  CHECK_RC(port_post(f1, "still the sender's"), PM_OK);
  CHECK_STR(rf2.log, "still the sender's|");

  /* QUEUED: the target freed with the message (and its ports) still queued */
  pm_window *doomed = pm_window_new("http://localhost/doomed");
  REQUIRE(doomed);
  CHECK_RC(pm_window_set_dispatch_mode(doomed, PM_DISPATCH_QUEUED), PM_OK);
  pm_port *g1, *g2;
  REQUIRE(pm_channel_new(page, &g1, &g2) == PM_OK);
  pm_port *tg[] = {g2};
  CHECK_RC(pm_post_message_transfer(page, doomed, (const uint8_t *)"g", 1, "*", tg, 1), PM_OK);
  CHECK_RC(pm_window_free(doomed), PM_OK);
  CHECK_RC(port_post(g1, "to the closed port"), PM_DROPPED);

  CHECK_RC(pm_window_free(page), PM_OK);
  CHECK_RC(pm_window_free(frame), PM_OK);
}

/* ---------------------------------------------------------------- window lifetime */

static void test_ports_closed_with_window(void) {
  pm_window *keeper = pm_window_new("https://keeper.example/");
  pm_window *w = pm_window_new("https://w.example/");
  REQUIRE(keeper && w);
  pm_window *child = pm_window_new_child(w, "https://child.example/");
  REQUIRE(child);

  /* both ports of a channel in the child: gone when the parent is freed */
  pm_port *c1, *c2;
  REQUIRE(pm_channel_new(child, &c1, &c2) == PM_OK);
  CHECK_RC(port_post(c1, "waiting"), PM_OK); /* waits in c2; freed with it */
  /* one port of a channel in w, the other in keeper */
  pm_port *k1, *k2;
  REQUIRE(pm_channel_new(keeper, &k1, &k2) == PM_OK);
  recorder rw;
  recorder_init(&rw);
  rw.expected_source = keeper;
  rw.expected_target = w;
  CHECK(pm_add_listener(w, window_record, &rw) > 0);
  pm_port *tk[] = {k2};
  CHECK_RC(pm_post_message_transfer(keeper, w, NULL, 0, "*", tk, 1), PM_OK);
  REQUIRE(rw.kept_len == 1);
  pm_port *in_w = rw.kept[0];

  /* navigation closes the ports of the old document (and frees the child) */
  CHECK_RC(pm_window_navigate(w, "https://w.example/next"), PM_OK);
  CHECK(port_is_invalid(in_w));
  CHECK(port_is_invalid(c1) && port_is_invalid(c2));
  CHECK_RC(port_post(k1, "after navigation"), PM_DROPPED);
  CHECK_RC(pm_port_close(k1), PM_OK);

  /* a channel made by the new document; freeing the window closes it */
  pm_port *n1, *n2;
  REQUIRE(pm_channel_new(w, &n1, &n2) == PM_OK);
  pm_port *x1, *x2;
  REQUIRE(pm_channel_new(keeper, &x1, &x2) == PM_OK);
  recorder rw2;
  recorder_init(&rw2);
  rw2.expected_source = keeper;
  rw2.expected_target = w;
  CHECK(pm_add_listener(w, window_record, &rw2) > 0);
  pm_port *tx[] = {x2};
  CHECK_RC(pm_post_message_transfer(keeper, w, NULL, 0, "*", tx, 1), PM_OK);
  CHECK(rw2.kept_len == 1);
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK(port_is_invalid(n1) && port_is_invalid(n2));
  if (rw2.kept_len == 1) CHECK(port_is_invalid(rw2.kept[0]));
  CHECK_RC(port_post(x1, "after free"), PM_DROPPED);
  CHECK_RC(pm_port_close(x1), PM_OK);

  CHECK_RC(pm_window_free(keeper), PM_OK);
}

/* ---------------------------------------------------------------- queued windows */

typedef struct {
  int calls;
  pm_window *window;
} wake_count;

static void count_wake(pm_window *window, void *user_data) {
  wake_count *w = user_data;
  w->calls++;
  w->window = window;
}

static void test_port_delivery_in_queued_window(void) {
  pm_window *sender = pm_window_new("https://sender.example/");
  pm_window *q = pm_window_new("https://q.example/");
  REQUIRE(sender && q);
  CHECK_RC(pm_window_set_dispatch_mode(q, PM_DISPATCH_QUEUED), PM_OK);
  wake_count wc = {0, NULL};
  CHECK_RC(pm_window_set_waker(q, count_wake, &wc), PM_OK);

  /* s1 in sender (SYNC), s2 in q (QUEUED) */
  pm_port *s1, *s2;
  REQUIRE(pm_channel_new(q, &s1, &s2) == PM_OK);
  recorder rq;
  recorder_init(&rq);
  rq.expected_source = sender;
  rq.expected_target = q;
  CHECK(pm_add_listener(q, window_record, &rq) > 0);
  /* move s1 to sender: sender is SYNC, so give it through a window post from q */
  recorder rs;
  recorder_init(&rs);
  rs.expected_source = q;
  rs.expected_target = sender;
  CHECK(pm_add_listener(sender, window_record, &rs) > 0);
  pm_port *ts[] = {s1};
  CHECK_RC(pm_post_message_transfer(q, sender, NULL, 0, "*", ts, 1), PM_OK);
  REQUIRE(rs.kept_len == 1);
  pm_port *in_sender = rs.kept[0];

  /* messages posted before s2 starts wait in the port, then go through q's queue */
  CHECK_RC(port_post(in_sender, "early1"), PM_OK);
  CHECK_RC(port_post(in_sender, "early2"), PM_OK);
  recorder rport;
  recorder_init(&rport);
  CHECK(pm_port_add_listener(s2, port_record, &rport) > 0);
  CHECK(rport.count == 0); /* QUEUED: not inside pm_port_add_listener */
  CHECK(pm_window_run_pending(q, SIZE_MAX) >= 1);
  CHECK_STR(rport.log, "early1|early2|");

  /* started: each post goes through the queue and wakes the window */
  int wakes_before = wc.calls;
  CHECK(pm_window_pending(q) == 0);
  CHECK_RC(port_post(in_sender, "q1"), PM_OK);
  CHECK_RC(port_post(in_sender, "q2"), PM_OK);
  CHECK(rport.count == 2);
  CHECK(pm_window_pending(q) == 2);
  CHECK(wc.calls == wakes_before + 1);
  CHECK(wc.window == q);
  /* FIFO with window messages */
  CHECK_RC(pm_test_post(sender, q, "win", "*"), PM_OK);
  CHECK_RC(port_post(in_sender, "q3"), PM_OK);
  CHECK(pm_window_run_pending(q, 1) == 1);
  CHECK_STR(rport.log, "early1|early2|q1|");
  CHECK(pm_window_run_pending(q, SIZE_MAX) == 3);
  CHECK_STR(rport.log, "early1|early2|q1|q2|q3|");
  CHECK_STR(rq.log, "win|");
  CHECK(rport.bad_fields == 0);

  /* the queue limits apply to port deliveries */
  CHECK_RC(pm_window_set_queue_limit(q, 1, 0), PM_OK);
  CHECK_RC(port_post(in_sender, "fits"), PM_OK);
  CHECK_RC(port_post(in_sender, "refused"), PM_ERR_QUEUE_FULL);
  CHECK(pm_window_pending(q) == 1);
  CHECK(pm_window_run_pending(q, SIZE_MAX) == 1);
  CHECK_STR(rport.log, "early1|early2|q1|q2|q3|fits|");
  CHECK_RC(pm_window_set_queue_limit(q, 0, 0), PM_OK);

  /* a port closed while its message is queued: nothing is delivered */
  CHECK_RC(port_post(in_sender, "orphan"), PM_OK);
  CHECK(pm_window_pending(q) == 1);
  CHECK_RC(pm_port_close(s2), PM_OK);
  pm_window_run_pending(q, SIZE_MAX);
  CHECK(pm_window_pending(q) == 0);
  CHECK_STR(rport.log, "early1|early2|q1|q2|q3|fits|");
  CHECK_RC(port_post(in_sender, "partner closed"), PM_DROPPED);

  CHECK_RC(pm_window_free(sender), PM_OK);
  CHECK_RC(pm_window_free(q), PM_OK);
}

/* A port in flight (in a message queued for a QUEUED window) no longer belongs to the sender:
 * freeing the sender does not close it. */
static void test_port_in_flight_survives_sender(void) {
  pm_window *sender = pm_window_new("https://sender.example/");
  pm_window *keeper = pm_window_new("https://keeper.example/");
  pm_window *q = pm_window_new("https://q.example/");
  REQUIRE(sender && keeper && q);
  CHECK_RC(pm_window_set_dispatch_mode(q, PM_DISPATCH_QUEUED), PM_OK);
  recorder rk, rq;
  recorder_init(&rk);
  recorder_init(&rq);
  rk.expected_source = sender;
  rk.expected_target = keeper;
  rq.expected_source = NULL; /* the sender is freed before delivery */
  rq.expected_target = q;
  CHECK(pm_add_listener(keeper, window_record, &rk) > 0);
  CHECK(pm_add_listener(q, window_record, &rq) > 0);
  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(sender, &p1, &p2) == PM_OK);
  pm_port *t1[] = {p1};
  CHECK_RC(pm_post_message_transfer(sender, keeper, NULL, 0, "*", t1, 1), PM_OK);
  REQUIRE(rk.kept_len == 1);
  pm_port *t2[] = {p2};
  CHECK_RC(pm_post_message_transfer(sender, q, (const uint8_t *)"in flight", 9, "*", t2, 1), PM_OK);
  CHECK_RC(pm_window_free(sender), PM_OK);
  CHECK(pm_window_run_pending(q, SIZE_MAX) == 1);
  CHECK_STR(rq.log, "in flight|");
  CHECK(rq.window_bad_fields == 0);
  REQUIRE(rq.kept_len == 1);
  recorder rport;
  recorder_init(&rport);
  CHECK(pm_port_add_listener(rq.kept[0], port_record, &rport) > 0);
  CHECK_RC(port_post(rk.kept[0], "still entangled"), PM_OK);
  CHECK(pm_window_run_pending(q, SIZE_MAX) == 1);
  CHECK_STR(rport.log, "still entangled|");
  CHECK_RC(pm_window_free(keeper), PM_OK);
  CHECK_RC(pm_window_free(q), PM_OK);
}

/* Messages still queued for a port in a window that navigates are not delivered. */
static void test_queued_port_message_and_navigation(void) {
  pm_window *q = pm_window_new("https://q.example/");
  REQUIRE(q);
  CHECK_RC(pm_window_set_dispatch_mode(q, PM_DISPATCH_QUEUED), PM_OK);
  pm_port *a, *b;
  REQUIRE(pm_channel_new(q, &a, &b) == PM_OK);
  recorder rb;
  recorder_init(&rb);
  CHECK(pm_port_add_listener(b, port_record, &rb) > 0);
  CHECK_RC(port_post(a, "queued"), PM_OK);
  CHECK(pm_window_pending(q) == 1);
  CHECK_RC(pm_window_navigate(q, "https://q.example/2"), PM_OK);
  CHECK(pm_window_pending(q) == 0);
  pm_window_run_pending(q, SIZE_MAX);
  CHECK(rb.count == 0);
  CHECK(port_is_invalid(a) && port_is_invalid(b));
  CHECK_RC(pm_window_free(q), PM_OK);
}

/* ---------------------------------------------------------------- chain */

#define CHAIN 5

typedef struct {
  pm_window *windows[CHAIN];
  pm_port *seen[CHAIN];     /* the handle each window received */
  pm_result forward_rc[CHAIN];
  recorder end_port;        /* listener on the final holder's port */
  int hops;
} chain_state;

static chain_state chain;

static int chain_index(pm_window *w) {
  for (int i = 0; i < CHAIN; i++)
    if (chain.windows[i] == w) return i;
  return -1;
}

/* Each window passes the port on to the next (alternating window posts and port posts would
 * need more channels; window posts suffice here); the last one keeps it and says hello. */
static void chain_listener(const pm_message_event *event, void *user_data) {
  (void)user_data;
  int i = chain_index(event->target);
  if (i < 0 || event->ports_len != 1) return;
  chain.hops++;
  chain.seen[i] = event->ports[0];
  if (i + 1 < CHAIN) {
    chain.forward_rc[i] = pm_post_message_transfer(event->target, chain.windows[i + 1],
                                                   event->data, event->data_len, "*",
                                                   event->ports, 1);
  } else {
    pm_port_add_listener(event->ports[0], port_record, &chain.end_port);
    chain.forward_rc[i] = port_post(event->ports[0], "hello from the end of the chain");
  }
}

static void test_chain_of_transfers(void) {
  memset(&chain, 0, sizeof chain);
  pm_window *origin = pm_window_new("https://origin.example/");
  REQUIRE(origin);
  for (int i = 0; i < CHAIN; i++) {
    char url[64];
    snprintf(url, sizeof url, "https://hop%d.example/", i);
    chain.windows[i] = pm_window_new(url);
    REQUIRE(chain.windows[i]);
    CHECK(pm_add_listener(chain.windows[i], chain_listener, NULL) > 0);
  }
  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(origin, &p1, &p2) == PM_OK);
  recorder rp1;
  recorder_init(&rp1);
  CHECK(pm_port_add_listener(p1, port_record, &rp1) > 0);
  pm_port *t[] = {p2};
  CHECK_RC(pm_post_message_transfer(origin, chain.windows[0], (const uint8_t *)"pass", 4, "*", t, 1),
           PM_OK);
  CHECK(chain.hops == CHAIN);
  for (int i = 0; i < CHAIN; i++) CHECK_RC(chain.forward_rc[i], PM_OK);
  CHECK_STR(rp1.log, "hello from the end of the chain|");
  CHECK(port_is_invalid(p2));
  for (int i = 0; i + 1 < CHAIN; i++) CHECK(port_is_invalid(chain.seen[i]));
  pm_port *end = chain.seen[CHAIN - 1];
  CHECK_RC(port_post(p1, "reply"), PM_OK);
  CHECK_STR(chain.end_port.log, "reply|");

  /* the same, through port posts: q travels over the channel r1 -> r2 */
  pm_port *q1, *q2, *r1, *r2;
  REQUIRE(pm_channel_new(origin, &q1, &q2) == PM_OK);
  REQUIRE(pm_channel_new(origin, &r1, &r2) == PM_OK);
  recorder rr2;
  recorder_init(&rr2);
  CHECK(pm_port_add_listener(r2, port_record, &rr2) > 0);
  pm_port *current = q2;
  for (int hop = 0; hop < 4; hop++) {
    pm_port *tq[] = {current};
    CHECK_RC(pm_port_post_message(r1, (const uint8_t *)"q", 1, tq, 1), PM_OK);
    REQUIRE(rr2.kept_len == hop + 1);
    CHECK(port_is_invalid(current));
    current = rr2.kept[hop];
    /* send it back the other way for the next hop */
    pm_port *back[] = {current};
    recorder rr1;
    recorder_init(&rr1);
    uint64_t id = pm_port_add_listener(r1, port_record, &rr1);
    CHECK(id > 0);
    CHECK_RC(pm_port_post_message(r2, (const uint8_t *)"b", 1, back, 1), PM_OK);
    REQUIRE(rr1.kept_len == 1);
    CHECK(port_is_invalid(current));
    current = rr1.kept[0];
    CHECK_RC(pm_port_remove_listener(r1, id), PM_OK);
  }
  recorder rq;
  recorder_init(&rq);
  CHECK(pm_port_add_listener(current, port_record, &rq) > 0);
  CHECK_RC(port_post(q1, "after 8 hops"), PM_OK);
  CHECK_STR(rq.log, "after 8 hops|");

  CHECK_RC(pm_port_close(end), PM_OK);
  CHECK_RC(port_post(p1, "end closed"), PM_DROPPED);
  for (int i = 0; i < CHAIN; i++) CHECK_RC(pm_window_free(chain.windows[i]), PM_OK);
  CHECK_RC(pm_window_free(origin), PM_OK);
}

/* ---------------------------------------------------------------- depth */

typedef struct {
  pm_port *other;
  int level;
  int max_level;
  int depth_errors;
} pingpong;

static pingpong ping_state, pong_state;

static void pingpong_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  pingpong *p = user_data;
  p->level++;
  if (p->level > p->max_level) p->max_level = p->level;
  pm_result rc = port_post(p->other, "ball");
  if (rc == PM_ERR_DEPTH) p->depth_errors++;
  p->level--;
}

static void test_port_depth(void) {
  pm_window *w = pm_window_new("https://app.example/");
  REQUIRE(w);
  pm_port *a, *b;
  REQUIRE(pm_channel_new(w, &a, &b) == PM_OK);
  memset(&ping_state, 0, sizeof ping_state);
  memset(&pong_state, 0, sizeof pong_state);
  ping_state.other = a; /* b's listener posts through a (to b) ... */
  pong_state.other = b; /* ... a's listener posts through b (to a) */
  CHECK(pm_port_add_listener(b, pingpong_listener, &ping_state) > 0);
  CHECK(pm_port_add_listener(a, pingpong_listener, &pong_state) > 0);
  CHECK_RC(port_post(a, "serve"), PM_OK);
  int levels = ping_state.max_level + pong_state.max_level;
  CHECK(levels == PM_MAX_DISPATCH_DEPTH);
  CHECK(ping_state.depth_errors + pong_state.depth_errors == 1);
  CHECK_RC(pm_window_free(w), PM_OK);
}


/* ---------------------------------------------------------------- the SYNC post's cache */

static int closing_calls;
static void close_own_port(const pm_message_event *event, void *user_data) {
  (void)event;
  closing_calls++;
  pm_port_close(user_data);
}

/* A port that has posted is cached on the posting thread: every later change of the sender,
 * its partner or the partner's window must be seen by the next post (each post below follows
 * a warm-up post that went through the cache). */
static void test_cached_port_follows_changes(void) {
  pm_window *w = pm_window_new("https://app.example/");
  pm_window *other = pm_window_new("https://other.example/");
  REQUIRE(w && other);
  pm_port *a, *b;
  REQUIRE(pm_channel_new(w, &a, &b) == PM_OK);
  recorder r1, r2;
  recorder_init(&r1);
  recorder_init(&r2);
  uint64_t id1 = pm_port_add_listener(b, port_record, &r1);
  REQUIRE(id1 != 0);
  CHECK_RC(port_post(a, "1"), PM_OK);
  CHECK_RC(port_post(a, "2"), PM_OK);
  CHECK(r1.count == 2);

  /* A listener added: both run from the next post on. */
  uint64_t id2 = pm_port_add_listener(b, port_record, &r2);
  REQUIRE(id2 != 0);
  CHECK_RC(port_post(a, "3"), PM_OK);
  CHECK(r1.count == 3 && r2.count == 1);

  /* A listener removed: it no longer runs. */
  CHECK_RC(pm_port_remove_listener(b, id1), PM_OK);
  CHECK_RC(port_post(a, "4"), PM_OK);
  CHECK(r1.count == 3 && r2.count == 2);

  /* The partner's window becomes QUEUED: the post waits for run_pending; and SYNC again. */
  CHECK_RC(pm_window_set_dispatch_mode(w, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(port_post(a, "5"), PM_OK);
  CHECK(r2.count == 2);
  CHECK(pm_window_run_pending(w, 10) == 1);
  CHECK(r2.count == 3);
  CHECK_RC(pm_window_set_dispatch_mode(w, PM_DISPATCH_SYNC), PM_OK);
  CHECK_RC(port_post(a, "6"), PM_OK);
  CHECK(r2.count == 4);

  /* The partner is transferred to another window: it gets a new handle there and its
   * listeners are gone; the sender's posts wait until a listener starts it again. */
  pm_port *c, *d;
  REQUIRE(pm_channel_new(w, &c, &d) == PM_OK);
  recorder carrier;
  recorder_init(&carrier);
  REQUIRE(pm_port_add_listener(d, port_record, &carrier) != 0);
  pm_port *moving[1] = {b};
  CHECK_RC(pm_port_post_message(c, (const uint8_t *)"move", 4, moving, 1), PM_OK);
  REQUIRE(carrier.kept_len == 1);
  pm_port *b2 = carrier.kept[0];
  CHECK(port_is_invalid(b));
  CHECK_RC(port_post(a, "7"), PM_OK);
  CHECK(r2.count == 4);
  recorder r3;
  recorder_init(&r3);
  REQUIRE(pm_port_add_listener(b2, port_record, &r3) != 0);
  CHECK(r3.count == 1);
  CHECK_RC(port_post(a, "8"), PM_OK);
  CHECK(r3.count == 2);
  CHECK_STR(r3.log, "7|8|");

  /* The partner closed: posts are dropped. */
  CHECK_RC(pm_port_close(b2), PM_OK);
  CHECK_RC(port_post(a, "9"), PM_DROPPED);
  CHECK(r3.count == 2);

  /* The sender's window navigates: the sender is closed with the old document. */
  CHECK_RC(pm_window_navigate(w, "https://app.example/next"), PM_OK);
  CHECK_RC(port_post(a, "10"), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(w), PM_OK);

  /* A listener that closes its own port during the post: the next post is dropped. */
  pm_port *e, *f;
  REQUIRE(pm_channel_new(other, &e, &f) == PM_OK);
  closing_calls = 0;
  REQUIRE(pm_port_add_listener(f, close_own_port, f) != 0);
  CHECK_RC(port_post(e, "x"), PM_OK);
  CHECK(closing_calls == 1);
  CHECK_RC(port_post(e, "y"), PM_DROPPED);
  CHECK(closing_calls == 1);
  CHECK_RC(pm_window_free(other), PM_OK);
  CHECK(r1.bad_fields == 0 && r2.bad_fields == 0 && r3.bad_fields == 0);
}

/* The same for a post to a port whose window is QUEUED: a warm cache queues the data into the
 * owner window's queue, and every change must still be seen: queue limits, listeners, a
 * transfer (messages then wait in the port, in order, until it starts again), a mode switch,
 * a close with a message queued, navigation. */
static void test_cached_queued_port_follows_changes(void) {
  pm_window *w = pm_window_new("https://app.example/");
  pm_window *other = pm_window_new("https://other.example/");
  REQUIRE(w && other);
  CHECK_RC(pm_window_set_dispatch_mode(w, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_dispatch_mode(other, PM_DISPATCH_QUEUED), PM_OK);
  wake_count wc = {0, NULL};
  CHECK_RC(pm_window_set_waker(w, count_wake, &wc), PM_OK);
  pm_port *a, *b;
  REQUIRE(pm_channel_new(w, &a, &b) == PM_OK);
  recorder r1;
  recorder_init(&r1);
  uint64_t id1 = pm_port_add_listener(b, port_record, &r1);
  REQUIRE(id1 != 0);
  CHECK_RC(port_post(a, "1"), PM_OK);
  CHECK_RC(port_post(a, "2"), PM_OK);
  CHECK_RC(port_post(a, "3"), PM_OK);
  CHECK(r1.count == 0);
  CHECK(pm_window_pending(w) == 3);
  CHECK(wc.calls == 1 && wc.window == w);
  CHECK(pm_window_run_pending(w, SIZE_MAX) == 3);
  CHECK_STR(r1.log, "1|2|3|");

  /* The queue's limits hold for cached posts; a refused post is not queued. */
  CHECK_RC(pm_window_set_queue_limit(w, 1, 0), PM_OK);
  CHECK_RC(port_post(a, "4"), PM_OK);
  CHECK_RC(port_post(a, "5"), PM_ERR_QUEUE_FULL);
  CHECK(pm_window_pending(w) == 1);
  CHECK_RC(pm_window_set_queue_limit(w, 0, 8), PM_OK);
  CHECK_RC(port_post(a, "too long"), PM_ERR_QUEUE_FULL);
  CHECK_RC(pm_window_set_queue_limit(w, 0, 0), PM_OK);
  CHECK(pm_window_run_pending(w, SIZE_MAX) == 1);
  CHECK_STR(r1.log, "1|2|3|4|");

  /* Listeners change: the queued message runs the listeners there are when it runs. */
  recorder r2;
  recorder_init(&r2);
  CHECK_RC(port_post(a, "6"), PM_OK);
  uint64_t id2 = pm_port_add_listener(b, port_record, &r2);
  REQUIRE(id2 != 0);
  CHECK_RC(port_post(a, "7"), PM_OK);
  CHECK_RC(pm_port_remove_listener(b, id1), PM_OK);
  CHECK(pm_window_run_pending(w, SIZE_MAX) == 2);
  CHECK_STR(r1.log, "1|2|3|4|");
  CHECK_STR(r2.log, "6|7|");

  /* The partner moves to `other` with a message queued for it in w: the message leaves w's
   * queue with it and waits, with later posts behind it, until a listener starts it there. */
  CHECK_RC(port_post(a, "8"), PM_OK);
  pm_port *c, *d;
  REQUIRE(pm_channel_new(other, &c, &d) == PM_OK);
  recorder carrier;
  recorder_init(&carrier);
  REQUIRE(pm_port_add_listener(d, port_record, &carrier) != 0);
  pm_port *moving[1] = {b};
  CHECK_RC(pm_port_post_message(c, (const uint8_t *)"move", 4, moving, 1), PM_OK);
  CHECK(pm_window_run_pending(w, SIZE_MAX) == 0); /* "8" went with b (in flight) */
  CHECK(r2.count == 2);
  CHECK(pm_window_run_pending(other, SIZE_MAX) == 1); /* "move": b arrives in other */
  REQUIRE(carrier.kept_len == 1);
  pm_port *b2 = carrier.kept[0];
  CHECK(port_is_invalid(b));
  CHECK_RC(port_post(a, "9"), PM_OK);
  CHECK(pm_window_pending(other) == 0); /* not started: waits in the port */
  recorder r3;
  recorder_init(&r3);
  REQUIRE(pm_port_add_listener(b2, port_record, &r3) != 0);
  CHECK_RC(port_post(a, "10"), PM_OK);
  CHECK(r3.count == 0);
  CHECK(pm_window_pending(other) == 3);
  CHECK(pm_window_run_pending(other, SIZE_MAX) == 3);
  CHECK_STR(r3.log, "8|9|10|");
  CHECK_STR(r2.log, "6|7|");

  /* The owner switches to SYNC (delivered at once) and back (queued). */
  CHECK_RC(pm_window_set_dispatch_mode(other, PM_DISPATCH_SYNC), PM_OK);
  CHECK_RC(port_post(a, "11"), PM_OK);
  CHECK_STR(r3.log, "8|9|10|11|");
  CHECK_RC(pm_window_set_dispatch_mode(other, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(port_post(a, "12"), PM_OK);
  CHECK_STR(r3.log, "8|9|10|11|");
  CHECK(pm_window_run_pending(other, SIZE_MAX) == 1);
  CHECK_STR(r3.log, "8|9|10|11|12|");

  /* Closed with a message queued: it is not delivered, and later posts are dropped. */
  CHECK_RC(port_post(a, "13"), PM_OK);
  CHECK_RC(pm_port_close(b2), PM_OK);
  pm_window_run_pending(other, SIZE_MAX);
  CHECK(pm_window_pending(other) == 0);
  CHECK_RC(port_post(a, "14"), PM_DROPPED);
  CHECK_STR(r3.log, "8|9|10|11|12|");

  /* Navigation discards the old document's queue and closes its ports. */
  pm_port *e, *f;
  REQUIRE(pm_channel_new(other, &e, &f) == PM_OK);
  recorder r4;
  recorder_init(&r4);
  REQUIRE(pm_port_add_listener(f, port_record, &r4) != 0);
  CHECK_RC(port_post(e, "n1"), PM_OK);
  CHECK_RC(port_post(e, "n2"), PM_OK);
  CHECK(pm_window_pending(other) == 2);
  CHECK_RC(pm_window_navigate(other, "https://other.example/next"), PM_OK);
  CHECK(pm_window_pending(other) == 0);
  CHECK(pm_window_run_pending(other, SIZE_MAX) == 0);
  CHECK_RC(port_post(e, "n3"), PM_ERR_INVALID_HANDLE);
  CHECK(r4.count == 0);

  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK_RC(pm_window_free(other), PM_OK);
  CHECK(r1.bad_fields == 0 && r2.bad_fields == 0 && r3.bad_fields == 0);
}

int main(void) {
  test_channel_new();
  test_messages_wait_until_started();
  test_transfer_with_window_post();
  test_transfer_several();
  test_transfer_keeps_waiting_messages();
  test_transfer_with_port_post();
  test_port_post_transfer_ownership();
  test_transfer_both_ends();
  test_data_clone_errors();
  test_dropped_post_closes_ports();
  test_ports_closed_with_window();
  test_port_delivery_in_queued_window();
  test_port_in_flight_survives_sender();
  test_queued_port_message_and_navigation();
  test_chain_of_transfers();
  test_port_depth();
  test_cached_port_follows_changes();
  test_cached_queued_port_follows_changes();
  TEST_EXIT("test_ports");
}
