/* Embedder extensions: allow-list listeners (pm_add_listener_for_origins), the drop handler
 * (pm_set_drop_handler, every pm_drop_reason and the event fields) and custom standard schemes
 * (pm_register_standard_scheme). Written against /work/shared/API.md ("Embedder extensions").
 *
 * The drop handler and the scheme registry are process-wide: each test sets the handler it needs
 * and removes it again, and the scheme tests use scheme names no other test touches. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>

#include "check.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
  int count;
  char log[2048];
  char last_origin[128];
} recorder;

static void recorder_init(recorder *r) { memset(r, 0, sizeof *r); }

static void record(const pm_message_event *event, void *user_data) {
  recorder *r = user_data;
  r->count++;
  size_t n = strlen(r->log);
  snprintf(r->log + n, sizeof r->log - n, "%.*s|", (int)event->data_len, (const char *)event->data);
  snprintf(r->last_origin, sizeof r->last_origin, "%s", event->origin);
}

static pm_result post(pm_window *source, pm_window *target, const char *text, const char *origin) {
  return pm_test_post(source, target, text, origin);
}

/* user_data with a destroy counter */
typedef struct {
  recorder rec;
  int destroyed;
} owned;

static void destroy_owned(void *user_data) { ((owned *)user_data)->destroyed++; }

static void owned_record(const pm_message_event *event, void *user_data) {
  record(event, &((owned *)user_data)->rec);
}

/* ---------------------------------------------------------------- drop handler capture */

#define MAX_DROPS 64

typedef struct {
  pm_drop_reason reason;
  char source_origin[128];
  char target_origin[128];
  char requested_origin[256];
  pm_window *source;
  pm_window *target;
  size_t data_len;
} drop_copy;

typedef struct {
  drop_copy drops[MAX_DROPS];
  int count;
  int reentered;
  int in_handler;
  void *user_data_seen;
  /* optional library calls from inside the handler */
  int call_library;
  char target_origin_via_api[128];
  pm_window *log_source;
  pm_window *log_target;    /* a SYNC window: the handler posts here */
  pm_result log_post_rc;
  pm_window *mismatch_target; /* the handler posts here with a wrong targetOrigin */
  pm_result mismatch_rc;
} drop_log;

static drop_log drops;

static void drop_log_reset(void) { memset(&drops, 0, sizeof drops); }

static void copy_str(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "(NULL)");
}

static void on_drop(const pm_drop_event *event, void *user_data) {
  drop_log *d = user_data;
  if (d->in_handler) d->reentered++;
  d->in_handler = 1;
  d->user_data_seen = user_data;
  if (d->count < MAX_DROPS) {
    drop_copy *c = &d->drops[d->count];
    c->reason = event->reason;
    copy_str(c->source_origin, sizeof c->source_origin, event->source_origin);
    copy_str(c->target_origin, sizeof c->target_origin, event->target_origin);
    copy_str(c->requested_origin, sizeof c->requested_origin, event->requested_origin);
    c->source = event->source;
    c->target = event->target;
    c->data_len = event->data_len;
  }
  d->count++;
  if (d->call_library) {
    d->target_origin_via_api[0] = '\0';
    if (event->target)
      pm_window_origin(event->target, d->target_origin_via_api, sizeof d->target_origin_via_api);
    if (d->log_target) d->log_post_rc = post(d->log_source, d->log_target, "drop seen", "*");
    if (d->mismatch_target)
      d->mismatch_rc = post(d->log_source, d->mismatch_target, "dropped in handler",
                            "https://never.example");
  }
  d->in_handler = 0;
}

#define CHECK_DROP(i, reason_, src_origin, tgt_origin, requested, src, tgt, len)               \
  do {                                                                                       \
    REQUIRE(drops.count > (i));                                                              \
    const drop_copy *dc_ = &drops.drops[(i)];                                                \
    CHECK(dc_->reason == (reason_));                                                         \
    CHECK_STR(dc_->source_origin, (src_origin));                                             \
    CHECK_STR(dc_->target_origin, (tgt_origin));                                             \
    CHECK_STR(dc_->requested_origin, (requested));                                           \
    CHECK(dc_->source == (src));                                                             \
    CHECK(dc_->target == (tgt));                                                             \
    CHECK(dc_->data_len == (size_t)(len));                                                   \
  } while (0)

/* ================================================================ allow-list listeners */

static void test_allow_list_matching(void) {
  pm_window *t = pm_window_new("https://t.example/");
  pm_window *a = pm_window_new("https://a.example/page");
  pm_window *b = pm_window_new("https://b.example/");
  pm_window *a_http = pm_window_new("http://a.example/");
  pm_window *a_8443 = pm_window_new("https://a.example:8443/");
  pm_window *sub = pm_window_new("https://sub.a.example/");
  pm_window *opaque = pm_window_new("data:text/html,hi");
  pm_window *local = pm_window_new("http://localhost/");
  REQUIRE(t && a && b && a_http && a_8443 && sub && opaque && local);

  const char *origins[] = {"https://a.example/some/path?x=1#frag", "https://B.EXAMPLE:443",
                           "http://localhost:80/"};
  owned allow;
  memset(&allow, 0, sizeof allow);
  uint64_t id = pm_add_listener_for_origins(t, origins, 3, owned_record, &allow, destroy_owned);
  CHECK(id > 0);
  recorder all;
  recorder_init(&all);
  CHECK(pm_add_listener(t, record, &all) > 0);

  CHECK_RC(post(a, t, "from a", "*"), PM_OK);
  CHECK_RC(post(b, t, "from b", "https://t.example"), PM_OK);
  CHECK_RC(post(a_http, t, "from a_http", "*"), PM_OK);
  CHECK_RC(post(a_8443, t, "from a_8443", "*"), PM_OK);
  CHECK_RC(post(sub, t, "from sub", "*"), PM_OK);
  CHECK_RC(post(opaque, t, "from opaque", "*"), PM_OK);
  CHECK_RC(post(local, t, "from local", "*"), PM_OK);
  CHECK_STR(allow.rec.log, "from a|from b|from local|");
  CHECK_STR(all.log,
            "from a|from b|from a_http|from a_8443|from sub|from opaque|from local|");

  /* the listener's id works with pm_remove_listener; destroy once */
  CHECK(allow.destroyed == 0);
  CHECK_RC(pm_remove_listener(t, id), PM_OK);
  CHECK(allow.destroyed == 1);
  CHECK_RC(pm_remove_listener(t, id), PM_ERR_INVALID_HANDLE);
  CHECK(allow.destroyed == 1);
  CHECK_RC(post(a, t, "after removal", "*"), PM_OK);
  CHECK_STR(allow.rec.log, "from a|from b|from local|");

  /* the list is copied: the caller's strings may go away */
  char entry[64];
  snprintf(entry, sizeof entry, "%s", "https://a.example");
  const char *one[] = {entry};
  owned copy;
  memset(&copy, 0, sizeof copy);
  CHECK(pm_add_listener_for_origins(t, one, 1, owned_record, &copy, NULL) > 0);
  memset(entry, 0, sizeof entry);
  CHECK_RC(post(a, t, "copied", "*"), PM_OK);
  CHECK_STR(copy.rec.log, "copied|");

  /* destroy on navigation and on free */
  owned nav, freed;
  memset(&nav, 0, sizeof nav);
  memset(&freed, 0, sizeof freed);
  CHECK(pm_add_listener_for_origins(t, origins, 1, owned_record, &nav, destroy_owned) > 0);
  CHECK_RC(pm_window_navigate(t, "https://t.example/2"), PM_OK);
  CHECK(nav.destroyed == 1);
  CHECK(pm_add_listener_for_origins(t, origins, 1, owned_record, &freed, destroy_owned) > 0);
  CHECK_RC(pm_window_free(t), PM_OK);
  CHECK(freed.destroyed == 1);
  CHECK(nav.destroyed == 1);

  pm_window *ws[] = {a, b, a_http, a_8443, sub, opaque, local};
  for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) CHECK_RC(pm_window_free(ws[i]), PM_OK);
}

/* Allow-lists in a queued window: checked at delivery. */
static void test_allow_list_queued(void) {
  pm_window *t = pm_window_new("https://t.example/");
  pm_window *a = pm_window_new("https://a.example/");
  pm_window *b = pm_window_new("https://b.example/");
  REQUIRE(t && a && b);
  CHECK_RC(pm_window_set_dispatch_mode(t, PM_DISPATCH_QUEUED), PM_OK);
  const char *origins[] = {"https://a.example"};
  recorder allow;
  recorder_init(&allow);
  CHECK(pm_add_listener_for_origins(t, origins, 1, record, &allow, NULL) > 0);
  CHECK_RC(post(a, t, "a1", "*"), PM_OK);
  CHECK_RC(post(b, t, "b1", "*"), PM_OK);
  CHECK_RC(post(a, t, "a2", "*"), PM_OK);
  CHECK(allow.count == 0);
  CHECK(pm_window_run_pending(t, SIZE_MAX) == 3);
  CHECK_STR(allow.log, "a1|a2|");
  CHECK_RC(pm_window_free(t), PM_OK);
  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

static void test_allow_list_errors(void) {
  pm_window *t = pm_window_new("https://t.example/");
  pm_window *a = pm_window_new("https://a.example/");
  REQUIRE(t && a);
  owned o;
  memset(&o, 0, sizeof o);

  const char *bad_entries[] = {"*", "/", "null", "not a url", "", "a.example", "https://",
                               "//a.example", "http://[::1"};
  for (size_t i = 0; i < sizeof bad_entries / sizeof bad_entries[0]; i++) {
    const char *list[] = {bad_entries[i]};
    uint64_t id = pm_add_listener_for_origins(t, list, 1, owned_record, &o, destroy_owned);
    if (!pm_test_check(id == 0, __FILE__, __LINE__, "bad entry rejected"))
      fprintf(stderr, "    entry \"%s\" was accepted\n", bad_entries[i]);
    CHECK_HAS_ERROR();
  }
  /* opaque origins could never match */
  const char *opaque_entries[] = {"data:,x", "about:blank", "javascript:void(0)",
                                  "mailto:someone@example.com"};
  for (size_t i = 0; i < sizeof opaque_entries / sizeof opaque_entries[0]; i++) {
    const char *list[] = {opaque_entries[i]};
    uint64_t id = pm_add_listener_for_origins(t, list, 1, owned_record, &o, destroy_owned);
    if (!pm_test_check(id == 0, __FILE__, __LINE__, "opaque entry rejected"))
      fprintf(stderr, "    entry \"%s\" was accepted\n", opaque_entries[i]);
    CHECK_HAS_ERROR();
  }
  /* one bad entry spoils the whole list */
  const char *mixed[] = {"https://a.example", "*"};
  CHECK(pm_add_listener_for_origins(t, mixed, 2, owned_record, &o, destroy_owned) == 0);
  CHECK_HAS_ERROR();
  const char *with_null[] = {"https://a.example", NULL};
  CHECK(pm_add_listener_for_origins(t, with_null, 2, owned_record, &o, destroy_owned) == 0);
  CHECK_HAS_ERROR();
  /* empty list, NULL list */
  const char *empty[] = {"https://a.example"};
  CHECK(pm_add_listener_for_origins(t, empty, 0, owned_record, &o, destroy_owned) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_add_listener_for_origins(t, NULL, 0, owned_record, &o, destroy_owned) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_add_listener_for_origins(t, NULL, 1, owned_record, &o, destroy_owned) == 0);
  CHECK_HAS_ERROR();
  /* NULL window, NULL callback, bad window */
  const char *good[] = {"https://a.example"};
  CHECK(pm_add_listener_for_origins(NULL, good, 1, owned_record, &o, destroy_owned) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_add_listener_for_origins(t, good, 1, NULL, &o, destroy_owned) == 0);
  CHECK_HAS_ERROR();
  pm_window *gone = pm_window_new("https://gone.example/");
  REQUIRE(gone);
  CHECK_RC(pm_window_free(gone), PM_OK);
  CHECK(pm_add_listener_for_origins(gone, good, 1, owned_record, &o, destroy_owned) == 0);
  CHECK_HAS_ERROR();
  /* invalid UTF-8 */
  const char *not_utf8[] = {"https://a.example/\xff"};
  CHECK(pm_add_listener_for_origins(t, not_utf8, 1, owned_record, &o, destroy_owned) == 0);
  /* pm_add_listener_full failing does not call destroy either */
  CHECK(pm_add_listener_full(gone, owned_record, &o, destroy_owned) == 0);
  CHECK(pm_add_listener_full(t, NULL, &o, destroy_owned) == 0);

  CHECK(o.destroyed == 0); /* never called for a failed add */
  /* and no listener was added by any of them */
  CHECK_RC(post(a, t, "anyone?", "*"), PM_OK);
  CHECK(o.rec.count == 0);

  CHECK_RC(pm_window_free(t), PM_OK);
  CHECK(o.destroyed == 0);
  CHECK_RC(pm_window_free(a), PM_OK);
}

/* A listener whose destroy runs once when it removes itself while running. */
typedef struct {
  owned o;
  pm_window *window;
  uint64_t id;
  int destroyed_during_call;
  pm_result remove_rc;
} self_remover;

static void self_remover_destroy(void *user_data) { ((self_remover *)user_data)->o.destroyed++; }

static void remove_self(const pm_message_event *event, void *user_data) {
  self_remover *s = user_data;
  record(event, &s->o.rec);
  s->remove_rc = pm_remove_listener(s->window, s->id);
  if (s->o.destroyed != 0) s->destroyed_during_call = 1; /* must wait until we return */
}

static void test_allow_list_remove_while_running(void) {
  pm_window *t = pm_window_new("https://t.example/");
  pm_window *a = pm_window_new("https://a.example/");
  REQUIRE(t && a);
  self_remover s;
  memset(&s, 0, sizeof s);
  s.window = t;
  const char *list[] = {"https://a.example"};
  s.id = pm_add_listener_for_origins(t, list, 1, remove_self, &s, self_remover_destroy);
  CHECK(s.id > 0);
  CHECK_RC(post(a, t, "once", "*"), PM_OK);
  CHECK_RC(s.remove_rc, PM_OK);
  CHECK(s.destroyed_during_call == 0);
  CHECK(s.o.destroyed == 1);
  CHECK_RC(post(a, t, "twice", "*"), PM_OK);
  CHECK_STR(s.o.rec.log, "once|");
  CHECK_RC(pm_window_free(t), PM_OK);
  CHECK(s.o.destroyed == 1);
  CHECK_RC(pm_window_free(a), PM_OK);
}

/* ================================================================ drop handler */

static void test_drop_origin_mismatch(void) {
  pm_window *s = pm_window_new("https://s.example/page");
  pm_window *t = pm_window_new("https://t.example/");
  REQUIRE(s && t);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);

  /* SYNC */
  CHECK_RC(post(s, t, "12345", "https://x.example/some/path"), PM_DROPPED);
  CHECK(drops.count == 1);
  CHECK(drops.user_data_seen == &drops);
  CHECK_DROP(0, PM_DROP_ORIGIN_MISMATCH, "https://s.example", "https://t.example",
             "https://x.example/some/path", s, t, 5);
  /* "/" is reported as given */
  CHECK_RC(post(s, t, "ab", "/"), PM_DROPPED);
  CHECK_DROP(1, PM_DROP_ORIGIN_MISMATCH, "https://s.example", "https://t.example", "/", s, t, 2);
  /* delivered and refused-for-syntax posts are not drops */
  CHECK_RC(post(s, t, "ok", "*"), PM_OK);
  CHECK_RC(post(s, t, "bad", "::nope"), PM_ERR_SYNTAX);
  CHECK(drops.count == 2);

  /* QUEUED: reported at delivery, not at post time */
  CHECK_RC(pm_window_set_dispatch_mode(t, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(post(s, t, "queued", "https://t.example:444"), PM_OK);
  CHECK(drops.count == 2);
  CHECK(pm_window_run_pending(t, SIZE_MAX) == 1);
  CHECK(drops.count == 3);
  CHECK_DROP(2, PM_DROP_ORIGIN_MISMATCH, "https://s.example", "https://t.example",
             "https://t.example:444", s, t, 6);

  /* QUEUED, source freed before delivery: source NULL, origin still the source's */
  pm_window *s2 = pm_window_new("https://s2.example/");
  REQUIRE(s2);
  CHECK_RC(post(s2, t, "xyz", "https://other.example"), PM_OK);
  CHECK_RC(pm_window_free(s2), PM_OK);
  CHECK(pm_window_run_pending(t, SIZE_MAX) == 1);
  CHECK(drops.count == 4);
  CHECK_DROP(3, PM_DROP_ORIGIN_MISMATCH, "https://s2.example", "https://t.example",
             "https://other.example", NULL, t, 3);

  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(pm_window_free(s), PM_OK);
  CHECK_RC(pm_window_free(t), PM_OK);
}

static void test_drop_navigated(void) {
  pm_window *s = pm_window_new("https://s.example/");
  pm_window *t = pm_window_new("https://t.example/");
  REQUIRE(s && t);
  CHECK_RC(pm_window_set_dispatch_mode(t, PM_DISPATCH_QUEUED), PM_OK);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);

  CHECK_RC(post(s, t, "one", "https://t.example"), PM_OK);
  CHECK_RC(post(s, t, "two!", "*"), PM_OK);
  CHECK(drops.count == 0);
  CHECK_RC(pm_window_navigate(t, "https://t2.example/"), PM_OK);
  CHECK(drops.count == 2);
  CHECK_DROP(0, PM_DROP_NAVIGATED, "https://s.example", "https://t.example", "https://t.example",
             s, t, 3);
  CHECK_DROP(1, PM_DROP_NAVIGATED, "https://s.example", "https://t.example", "*", s, t, 4);
  pm_window_run_pending(t, SIZE_MAX);
  CHECK(drops.count == 2);

  /* a message waiting in an unstarted port of the navigating window */
  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(t, &p1, &p2) == PM_OK);
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"port", 4, NULL, 0), PM_OK);
  CHECK(drops.count == 2);
  CHECK_RC(pm_window_navigate(t, "https://t3.example/"), PM_OK);
  CHECK(drops.count == 3);
  CHECK_DROP(2, PM_DROP_NAVIGATED, "", "https://t2.example", "", NULL, t, 4);

  /* a started port's message and a broadcast waiting in the (QUEUED) window's queue */
  pm_port *s1, *s2;
  REQUIRE(pm_channel_new(t, &s1, &s2) == PM_OK);
  recorder rs2;
  recorder_init(&rs2);
  CHECK(pm_port_add_listener(s2, record, &rs2) > 0);
  pm_broadcast *b1 = pm_broadcast_new(t, "nav");
  pm_broadcast *b2 = pm_broadcast_new(t, "nav");
  REQUIRE(b1 && b2);
  CHECK_RC(pm_port_post_message(s1, (const uint8_t *)"queued port", 11, NULL, 0), PM_OK);
  CHECK_RC(pm_broadcast_post_message(b1, (const uint8_t *)"bc", 2), PM_OK);
  CHECK(pm_window_pending(t) == 2);
  CHECK(drops.count == 3);
  CHECK_RC(pm_window_navigate(t, "https://t4.example/"), PM_OK);
  CHECK(drops.count == 5);
  CHECK_DROP(3, PM_DROP_NAVIGATED, "", "https://t3.example", "", NULL, t, 11);
  CHECK_DROP(4, PM_DROP_NAVIGATED, "https://t3.example", "https://t3.example", "", NULL, t, 2);
  CHECK(rs2.count == 0);

  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(pm_window_free(s), PM_OK);
  CHECK_RC(pm_window_free(t), PM_OK);
}

static void test_drop_target_gone(void) {
  pm_window *s = pm_window_new("https://s.example/");
  pm_window *t = pm_window_new("https://t.example/");
  REQUIRE(s && t);
  CHECK_RC(pm_window_set_dispatch_mode(t, PM_DISPATCH_QUEUED), PM_OK);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);

  /* window freed with a message queued */
  CHECK_RC(post(s, t, "lost", "https://t.example"), PM_OK);
  CHECK_RC(pm_window_free(t), PM_OK);
  CHECK(drops.count == 1);
  CHECK_DROP(0, PM_DROP_TARGET_GONE, "https://s.example", "https://t.example",
             "https://t.example", s, NULL, 4);

  /* port partner closed */
  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(s, &p1, &p2) == PM_OK);
  CHECK_RC(pm_port_close(p2), PM_OK);
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"nobody", 6, NULL, 0), PM_DROPPED);
  CHECK(drops.count == 2);
  CHECK_DROP(1, PM_DROP_TARGET_GONE, "", drops.drops[1].target_origin, "", NULL, NULL, 6);
  CHECK_RC(pm_port_close(p1), PM_OK);

  /* an unstarted port closed with messages waiting */
  pm_port *q1, *q2;
  REQUIRE(pm_channel_new(s, &q1, &q2) == PM_OK);
  CHECK_RC(pm_port_post_message(q1, (const uint8_t *)"w1", 2, NULL, 0), PM_OK);
  CHECK_RC(pm_port_post_message(q1, (const uint8_t *)"w22", 3, NULL, 0), PM_OK);
  CHECK(drops.count == 2);
  CHECK_RC(pm_port_close(q2), PM_OK);
  CHECK(drops.count == 4);
  if (drops.count == 4) {
    CHECK(drops.drops[2].reason == PM_DROP_TARGET_GONE);
    CHECK(drops.drops[3].reason == PM_DROP_TARGET_GONE);
    CHECK(drops.drops[2].data_len == 2 && drops.drops[3].data_len == 3);
    CHECK_STR(drops.drops[2].source_origin, "");
    CHECK_STR(drops.drops[2].requested_origin, "");
    CHECK(drops.drops[2].source == NULL);
  }
  CHECK_RC(pm_port_close(q1), PM_OK);

  /* a window freed while one of its unstarted ports has a message waiting: target NULL */
  pm_window *holder = pm_window_new("https://holder.example/");
  REQUIRE(holder);
  pm_port *h1, *h2;
  REQUIRE(pm_channel_new(holder, &h1, &h2) == PM_OK);
  CHECK_RC(pm_port_post_message(h1, (const uint8_t *)"held", 4, NULL, 0), PM_OK);
  int before_free = drops.count;
  CHECK_RC(pm_window_free(holder), PM_OK);
  CHECK(drops.count == before_free + 1);
  CHECK_DROP(before_free, PM_DROP_TARGET_GONE, "", drops.drops[before_free].target_origin, "",
             NULL, NULL, 4);

  /* a broadcast channel closed with a message queued for it */
  pm_window *q = pm_window_new("https://s.example/q");
  REQUIRE(q);
  CHECK_RC(pm_window_set_dispatch_mode(q, PM_DISPATCH_QUEUED), PM_OK);
  pm_broadcast *sender = pm_broadcast_new(s, "bc");
  pm_broadcast *receiver = pm_broadcast_new(q, "bc");
  REQUIRE(sender && receiver);
  CHECK_RC(pm_broadcast_post_message(sender, (const uint8_t *)"bcast", 5), PM_OK);
  int before = drops.count;
  CHECK_RC(pm_broadcast_close(receiver), PM_OK);
  pm_window_run_pending(q, SIZE_MAX);
  CHECK(drops.count == before + 1);
  if (drops.count == before + 1) {
    const drop_copy *d = &drops.drops[before];
    CHECK(d->reason == PM_DROP_TARGET_GONE);
    CHECK_STR(d->source_origin, "https://s.example");
    CHECK_STR(d->requested_origin, "");
    CHECK(d->source == NULL);
    CHECK(d->data_len == 5);
  }
  CHECK_RC(pm_broadcast_close(sender), PM_OK);

  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(pm_window_free(q), PM_OK);
  CHECK_RC(pm_window_free(s), PM_OK);
}

static void test_drop_queue_full(void) {
  pm_window *s = pm_window_new("https://s.example/");
  pm_window *t = pm_window_new("https://t.example/");
  REQUIRE(s && t);
  CHECK_RC(pm_window_set_dispatch_mode(t, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_queue_limit(t, 1, 0), PM_OK);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);
  CHECK_RC(post(s, t, "fits", "*"), PM_OK);
  CHECK_RC(post(s, t, "refused", "https://t.example/x"), PM_ERR_QUEUE_FULL);
  CHECK(drops.count == 1);
  CHECK_DROP(0, PM_DROP_QUEUE_FULL, "https://s.example", "https://t.example",
             "https://t.example/x", s, t, 7);
  /* a port message refused by the same queue */
  pm_port *p1, *p2;
  REQUIRE(pm_channel_new(t, &p1, &p2) == PM_OK);
  recorder rp2;
  recorder_init(&rp2);
  CHECK(pm_port_add_listener(p2, record, &rp2) > 0);
  CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"port!", 5, NULL, 0), PM_ERR_QUEUE_FULL);
  CHECK(drops.count == 2);
  CHECK_DROP(1, PM_DROP_QUEUE_FULL, "", "https://t.example", "", NULL, t, 5);
  /* and a broadcast */
  pm_broadcast *bs = pm_broadcast_new(s, "full");
  pm_window *t_same = pm_window_new("https://s.example/receiver");
  REQUIRE(bs && t_same);
  pm_broadcast *br = pm_broadcast_new(t_same, "full");
  REQUIRE(br);
  CHECK_RC(pm_window_set_dispatch_mode(t_same, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_queue_limit(t_same, 0, 3), PM_OK);
  CHECK_RC(pm_broadcast_post_message(bs, (const uint8_t *)"four", 4), PM_ERR_QUEUE_FULL);
  CHECK(drops.count == 3);
  CHECK_DROP(2, PM_DROP_QUEUE_FULL, "https://s.example", "https://s.example", "", NULL, t_same, 4);
  CHECK_RC(pm_window_free(t_same), PM_OK);
  CHECK_RC(pm_broadcast_close(bs), PM_OK);
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(pm_window_free(s), PM_OK);
  CHECK_RC(pm_window_free(t), PM_OK);
}

typedef struct {
  pm_window *self;
  int depth_errors;
} recurse_state;

static void recurse(const pm_message_event *event, void *user_data) {
  (void)event;
  recurse_state *r = user_data;
  if (post(r->self, r->self, "deep", "https://r.example") == PM_ERR_DEPTH) r->depth_errors++;
}

static void test_drop_depth(void) {
  pm_window *w = pm_window_new("https://r.example/");
  REQUIRE(w);
  recurse_state r = {w, 0};
  CHECK(pm_add_listener(w, recurse, &r) > 0);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);
  CHECK_RC(post(w, w, "start", "*"), PM_OK);
  CHECK(r.depth_errors == 1);
  CHECK(drops.count == 1);
  CHECK_DROP(0, PM_DROP_DEPTH, "https://r.example", "https://r.example", "https://r.example", w, w,
             4);
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(pm_window_free(w), PM_OK);
}

/* DEPTH for port and broadcast messages; posting into a QUEUED window at the deepest level
 * queues instead (no DEPTH). */
typedef struct {
  pm_port *out;
  pm_broadcast *bout;
  pm_window *queued;
  pm_window *src;
  int depth_errors;
  pm_result queued_post;
  pm_result queued_port_post;
  pm_port *queued_port;
} deep_state;

static void port_recurse(const pm_message_event *event, void *user_data) {
  (void)event;
  deep_state *d = user_data;
  pm_result rc = pm_port_post_message(d->out, (const uint8_t *)"abc", 3, NULL, 0);
  if (rc == PM_ERR_DEPTH) {
    d->depth_errors++;
    if (d->queued) d->queued_post = post(d->src, d->queued, "q", "*");
    if (d->queued_port)
      d->queued_port_post = pm_port_post_message(d->queued_port, (const uint8_t *)"qp", 2, NULL, 0);
  }
}

static void broadcast_recurse(const pm_message_event *event, void *user_data) {
  (void)event;
  deep_state *d = user_data;
  if (pm_broadcast_post_message(d->bout, (const uint8_t *)"abcd", 4) == PM_ERR_DEPTH)
    d->depth_errors++;
}

static void test_drop_depth_ports_and_broadcast(void) {
  pm_window *w = pm_window_new("https://deep.example/");
  pm_window *q = pm_window_new("https://q.example/");
  REQUIRE(w && q);
  CHECK_RC(pm_window_set_dispatch_mode(q, PM_DISPATCH_QUEUED), PM_OK);
  pm_port *qa, *qb;
  REQUIRE(pm_channel_new(q, &qa, &qb) == PM_OK);
  recorder rqb;
  recorder_init(&rqb);
  CHECK(pm_port_add_listener(qb, record, &rqb) > 0);

  pm_port *a, *b;
  REQUIRE(pm_channel_new(w, &a, &b) == PM_OK);
  deep_state da, db;
  memset(&da, 0, sizeof da);
  memset(&db, 0, sizeof db);
  da.out = a; /* a's listener posts through a, to b */
  db.out = b;
  db.queued = q;
  db.src = w;
  db.queued_port = qa;
  da.queued = q;
  da.src = w;
  da.queued_port = qa;
  da.queued_post = db.queued_post = PM_ERR_PANIC;
  CHECK(pm_port_add_listener(a, port_recurse, &da) > 0);
  CHECK(pm_port_add_listener(b, port_recurse, &db) > 0);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);
  CHECK_RC(pm_port_post_message(a, (const uint8_t *)"go", 2, NULL, 0), PM_OK);
  CHECK(da.depth_errors + db.depth_errors == 1);
  CHECK(drops.count == 1);
  CHECK_DROP(0, PM_DROP_DEPTH, "", "https://deep.example", "", NULL, w, 3);
  pm_result qp = da.depth_errors ? da.queued_post : db.queued_post;
  pm_result qpp = da.depth_errors ? da.queued_port_post : db.queued_port_post;
  CHECK_RC(qp, PM_OK);  /* queued, not dispatched */
  CHECK_RC(qpp, PM_OK); /* port delivery into a QUEUED window queues too */
  CHECK(pm_window_pending(q) == 2);
  CHECK(pm_window_run_pending(q, SIZE_MAX) == 2);
  CHECK_STR(rqb.log, "qp|");

  /* broadcast */
  pm_broadcast *x = pm_broadcast_new(w, "deep");
  pm_broadcast *y = pm_broadcast_new(w, "deep");
  REQUIRE(x && y);
  deep_state dx, dy;
  memset(&dx, 0, sizeof dx);
  memset(&dy, 0, sizeof dy);
  dx.bout = x;
  dy.bout = y;
  CHECK(pm_broadcast_add_listener(x, broadcast_recurse, &dx) > 0);
  CHECK(pm_broadcast_add_listener(y, broadcast_recurse, &dy) > 0);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);
  CHECK_RC(pm_broadcast_post_message(x, (const uint8_t *)"go", 2), PM_OK);
  CHECK(dx.depth_errors + dy.depth_errors == 1);
  CHECK(drops.count == 1);
  CHECK_DROP(0, PM_DROP_DEPTH, "https://deep.example", "https://deep.example", "", NULL, w, 4);

  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK_RC(pm_window_free(q), PM_OK);
}

static void test_drop_filtered(void) {
  pm_window *s = pm_window_new("https://s.example/");
  pm_window *t = pm_window_new("https://t.example/");
  REQUIRE(s && t);
  const char *only_a[] = {"https://a.example"};
  const char *only_b[] = {"https://b.example"};
  const char *only_s[] = {"https://s.example"};
  recorder ra, rb, rs, rall;
  recorder_init(&ra);
  recorder_init(&rb);
  recorder_init(&rs);
  recorder_init(&rall);
  CHECK(pm_add_listener_for_origins(t, only_a, 1, record, &ra, NULL) > 0);
  CHECK(pm_add_listener(t, record, &rall) > 0);
  CHECK(pm_add_listener_for_origins(t, only_s, 1, record, &rs, NULL) > 0);
  CHECK(pm_add_listener_for_origins(t, only_b, 1, record, &rb, NULL) > 0);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);

  CHECK_RC(post(s, t, "filtered", "https://t.example/p"), PM_OK);
  CHECK(ra.count == 0 && rb.count == 0 && rs.count == 1 && rall.count == 1);
  CHECK(drops.count == 2); /* once per skipping allow-list listener */
  CHECK_DROP(0, PM_DROP_FILTERED, "https://s.example", "https://t.example", "https://t.example/p",
             s, t, 8);
  CHECK_DROP(1, PM_DROP_FILTERED, "https://s.example", "https://t.example", "https://t.example/p",
             s, t, 8);

  /* a message that does not reach the listeners at all is one ORIGIN_MISMATCH, no FILTERED */
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);
  CHECK_RC(post(s, t, "x", "https://elsewhere.example"), PM_DROPPED);
  CHECK(drops.count == 1);
  CHECK(drops.drops[0].reason == PM_DROP_ORIGIN_MISMATCH);

  /* queued: reported at delivery */
  CHECK_RC(pm_window_set_dispatch_mode(t, PM_DISPATCH_QUEUED), PM_OK);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);
  CHECK_RC(post(s, t, "q", "*"), PM_OK);
  CHECK(drops.count == 0);
  CHECK(pm_window_run_pending(t, SIZE_MAX) == 1);
  CHECK(drops.count == 2);
  CHECK_DROP(0, PM_DROP_FILTERED, "https://s.example", "https://t.example", "*", s, t, 1);

  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(pm_window_free(s), PM_OK);
  CHECK_RC(pm_window_free(t), PM_OK);
}

static void test_drop_handler_calls_library(void) {
  pm_window *s = pm_window_new("https://s.example/");
  pm_window *t = pm_window_new("https://t.example/");
  pm_window *log_window = pm_window_new("https://log.example/");
  pm_window *other = pm_window_new("https://other.example/");
  REQUIRE(s && t && log_window && other);
  recorder rlog;
  recorder_init(&rlog);
  CHECK(pm_add_listener(log_window, record, &rlog) > 0);

  drop_log_reset();
  drops.call_library = 1;
  drops.log_source = s;
  drops.log_target = log_window;
  drops.mismatch_target = other;
  drops.log_post_rc = PM_ERR_PANIC;
  drops.mismatch_rc = PM_ERR_PANIC;
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);

  CHECK_RC(post(s, t, "bad origin", "https://wrong.example"), PM_DROPPED);
  CHECK(drops.count == 1);      /* the drop inside the handler is not reported again */
  CHECK(drops.reentered == 0);
  CHECK_STR(drops.target_origin_via_api, "https://t.example");
  CHECK_RC(drops.log_post_rc, PM_OK);
  CHECK_RC(drops.mismatch_rc, PM_DROPPED);
  CHECK_STR(rlog.log, "drop seen|");

  /* and the handler still works for the next drop */
  CHECK_RC(post(s, t, "again", "https://wrong.example"), PM_DROPPED);
  CHECK(drops.count == 2);
  CHECK(drops.reentered == 0);

  /* replacing the handler's user_data */
  drop_log other_log;
  memset(&other_log, 0, sizeof other_log);
  CHECK_RC(pm_set_drop_handler(on_drop, &other_log), PM_OK);
  CHECK_RC(post(s, t, "third", "https://wrong.example"), PM_DROPPED);
  CHECK(drops.count == 2);
  CHECK(other_log.count == 1);
  CHECK(other_log.user_data_seen == &other_log);

  /* NULL removes it */
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(post(s, t, "unreported", "https://wrong.example"), PM_DROPPED);
  CHECK(drops.count == 2 && other_log.count == 1);
  CHECK_RC(pm_set_drop_handler(NULL, &drops), PM_OK); /* twice: still fine */

  CHECK_RC(pm_window_free(s), PM_OK);
  CHECK_RC(pm_window_free(t), PM_OK);
  CHECK_RC(pm_window_free(log_window), PM_OK);
  CHECK_RC(pm_window_free(other), PM_OK);
}

/* A drop caused inside a listener (not the handler) is reported normally. */
static pm_window *inner_s, *inner_other;
static void drop_from_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  (void)user_data;
  post(inner_s, inner_other, "inner", "https://wrong.example");
}

static void test_drop_inside_listener_reported(void) {
  inner_s = pm_window_new("https://s.example/");
  pm_window *t = pm_window_new("https://t.example/");
  inner_other = pm_window_new("https://other.example/");
  REQUIRE(inner_s && t && inner_other);
  CHECK(pm_add_listener(t, drop_from_listener, NULL) > 0);
  drop_log_reset();
  CHECK_RC(pm_set_drop_handler(on_drop, &drops), PM_OK);
  CHECK_RC(post(inner_s, t, "outer", "*"), PM_OK);
  CHECK(drops.count == 1);
  CHECK_DROP(0, PM_DROP_ORIGIN_MISMATCH, "https://s.example", "https://other.example",
             "https://wrong.example", inner_s, inner_other, 5);
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK_RC(pm_window_free(inner_s), PM_OK);
  CHECK_RC(pm_window_free(t), PM_OK);
  CHECK_RC(pm_window_free(inner_other), PM_OK);
}

/* ================================================================ standard schemes */

static void test_register_standard_scheme(void) {
  /* before registering, app: URLs have opaque origins */
  pm_window *before = pm_window_new("app://UI:8080/x");
  REQUIRE(before);
  CHECK_STR(pm_test_origin(before), "null");

  CHECK_RC(pm_register_standard_scheme("APP"), PM_OK); /* case-insensitive */
  pm_window *after = pm_window_new("app://UI:8080/x");
  REQUIRE(after);
  CHECK_STR(pm_test_origin(after), "app://ui:8080");
  CHECK_STR(pm_test_origin(before), "null"); /* windows created earlier keep their origin */
  pm_window *no_port = pm_window_new("app://Host.Example/path?q#f");
  REQUIRE(no_port);
  CHECK_STR(pm_test_origin(no_port), "app://host.example");
  pm_window *upper = pm_window_new("APP://ui:8080/");
  REQUIRE(upper);
  CHECK_STR(pm_test_origin(upper), "app://ui:8080");
  /* no default port: 80 and 443 are kept */
  pm_window *p80 = pm_window_new("app://h:80/");
  pm_window *p443 = pm_window_new("app://h:443/");
  REQUIRE(p80 && p443);
  CHECK_STR(pm_test_origin(p80), "app://h:80");
  CHECK_STR(pm_test_origin(p443), "app://h:443");
  /* IDNA mapping */
  pm_window *idn = pm_window_new("app://B\xc3\x9c" "CHER.example/");
  REQUIRE(idn);
  CHECK_STR(pm_test_origin(idn), "app://xn--bcher-kva.example");
  /* navigating the old window now gives it a tuple origin */
  CHECK_RC(pm_window_navigate(before, "app://Foo/"), PM_OK);
  CHECK_STR(pm_test_origin(before), "app://foo");

  /* targetOrigins parsed with the scheme */
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener(after, record, &r) > 0);
  CHECK_RC(post(no_port, after, "exact", "app://ui:8080"), PM_OK);
  CHECK_RC(post(no_port, after, "path ignored", "app://UI:8080/elsewhere?x"), PM_OK);
  CHECK_RC(post(no_port, after, "other port", "app://ui:8081"), PM_DROPPED);
  CHECK_RC(post(no_port, after, "no port", "app://ui"), PM_DROPPED);
  CHECK_RC(post(upper, after, "same origin", "/"), PM_OK);
  CHECK_STR(r.log, "exact|path ignored|same origin|");
  CHECK_STR(r.last_origin, "app://ui:8080");

  /* allow-lists parsed with the scheme */
  recorder ra;
  recorder_init(&ra);
  const char *list[] = {"app://HOST.example/any"};
  CHECK(pm_add_listener_for_origins(after, list, 1, record, &ra, NULL) > 0);
  CHECK_RC(post(no_port, after, "allowed", "*"), PM_OK);
  CHECK_RC(post(p80, after, "not allowed", "*"), PM_OK);
  CHECK_STR(ra.log, "allowed|");
  CHECK_STR(ra.last_origin, "app://host.example");

  /* registering again is fine */
  CHECK_RC(pm_register_standard_scheme("app"), PM_OK);
  CHECK_STR(pm_test_origin(after), "app://ui:8080");

  pm_window *ws[] = {before, after, no_port, upper, p80, p443, idn};
  for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) CHECK_RC(pm_window_free(ws[i]), PM_OK);
}

/* An allow-list parsed before registering keeps its (opaque -> rejected) meaning; one entry
 * of a scheme registered later is only accepted afterwards. */
static void test_scheme_allow_list_before_registering(void) {
  pm_window *t = pm_window_new("https://t.example/");
  REQUIRE(t);
  const char *list[] = {"late-scheme://host"};
  recorder r;
  recorder_init(&r);
  CHECK(pm_add_listener_for_origins(t, list, 1, record, &r, NULL) == 0); /* opaque so far */
  CHECK_HAS_ERROR();
  CHECK_RC(pm_register_standard_scheme("late-scheme"), PM_OK);
  CHECK(pm_add_listener_for_origins(t, list, 1, record, &r, NULL) > 0);
  pm_window *s = pm_window_new("late-scheme://HOST/page");
  REQUIRE(s);
  CHECK_STR(pm_test_origin(s), "late-scheme://host");
  CHECK_RC(post(s, t, "late", "https://t.example"), PM_OK);
  CHECK_STR(r.log, "late|");
  CHECK_RC(pm_window_free(s), PM_OK);
  CHECK_RC(pm_window_free(t), PM_OK);
}

static void test_register_standard_scheme_errors(void) {
  const char *invalid[] = {"", "1app", "a b", "app:", "ap/p", "-app", ".app", "ap_p", "app!",
                           "\xc3\xa4pp", "file", "FILE", "blob", "data", "about", "javascript",
                           "JavaScript"};
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    pm_result rc = pm_register_standard_scheme(invalid[i]);
    if (!pm_test_check(rc == PM_ERR_INVALID_ARGUMENT, __FILE__, __LINE__,
                       "pm_register_standard_scheme(invalid) == PM_ERR_INVALID_ARGUMENT"))
      fprintf(stderr, "    \"%s\" gave %s\n", invalid[i], pm_test_rc_name(rc));
    else
      CHECK_HAS_ERROR();
  }
  CHECK_RC(pm_register_standard_scheme(NULL), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_register_standard_scheme("x\xff"), PM_ERR_UTF8);

  /* file: URLs still have opaque origins, about:blank still a fresh opaque one */
  pm_window *f = pm_window_new("file:///tmp/x.html");
  REQUIRE(f);
  CHECK_STR(pm_test_origin(f), "null");
  CHECK_RC(pm_window_free(f), PM_OK);

  /* schemes that already have tuple origins: no-op PM_OK, behaviour unchanged */
  CHECK_RC(pm_register_standard_scheme("https"), PM_OK);
  CHECK_RC(pm_register_standard_scheme("HTTP"), PM_OK);
  CHECK_RC(pm_register_standard_scheme("ws"), PM_OK);
  pm_window *h = pm_window_new("https://Example.COM:443/p");
  pm_window *h2 = pm_window_new("http://example.com:80/");
  REQUIRE(h && h2);
  CHECK_STR(pm_test_origin(h), "https://example.com"); /* default port still dropped */
  CHECK_STR(pm_test_origin(h2), "http://example.com");
  CHECK_RC(pm_window_free(h), PM_OK);
  CHECK_RC(pm_window_free(h2), PM_OK);

  /* valid unusual names */
  CHECK_RC(pm_register_standard_scheme("my-app+v1.x"), PM_OK);
  pm_window *u = pm_window_new("my-app+v1.x://Host:1/");
  REQUIRE(u);
  CHECK_STR(pm_test_origin(u), "my-app+v1.x://host:1");
  CHECK_RC(pm_window_free(u), PM_OK);
}

int main(void) {
  test_allow_list_matching();
  test_allow_list_queued();
  test_allow_list_errors();
  test_allow_list_remove_while_running();
  test_drop_origin_mismatch();
  test_drop_navigated();
  test_drop_target_gone();
  test_drop_queue_full();
  test_drop_depth();
  test_drop_depth_ports_and_broadcast();
  test_drop_filtered();
  test_drop_handler_calls_library();
  test_drop_inside_listener_reported();
  test_register_standard_scheme();
  test_scheme_allow_list_before_registering();
  test_register_standard_scheme_errors();
  TEST_EXIT("test_extensions");
}
