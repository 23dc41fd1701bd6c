/* Listeners and synchronous dispatch: event fields, ordering, adding and removing during
 * dispatch, destroy callbacks, the depth limit, navigation and freeing windows. */
#include "check.h"

/* ---------------------------------------------------------------- event fields */

typedef struct {
  int calls;
  uint8_t data[64];
  size_t data_len;
  int data_was_null;
  char origin[128];
  char last_event_id[16];
  int last_event_id_was_null;
  pm_window *source;
  pm_window *target;
  void *user_data;
} recorded;

static void record_listener(const pm_message_event *event, void *user_data) {
  recorded *r = user_data;
  r->calls++;
  r->data_was_null = event->data == NULL;
  r->data_len = event->data_len;
  if (event->data != NULL && event->data_len <= sizeof r->data)
    memcpy(r->data, event->data, event->data_len);
  snprintf(r->origin, sizeof r->origin, "%s", event->origin ? event->origin : "(NULL)");
  r->last_event_id_was_null = event->last_event_id == NULL;
  snprintf(r->last_event_id, sizeof r->last_event_id, "%s",
           event->last_event_id ? event->last_event_id : "(NULL)");
  r->source = event->source;
  r->target = event->target;
  r->user_data = user_data;
}

static void test_event_fields(void) {
  pm_window *parent = pm_window_new("http://127.0.0.1/");
  REQUIRE(parent != NULL);
  pm_window *frame = pm_window_new_child(parent, "http://localhost/");
  REQUIRE(frame != NULL);
  recorded r;
  memset(&r, 0, sizeof r);
  uint64_t id = pm_add_listener(frame, record_listener, &r);
  CHECK(id > 0);

  /* binary-safe data with embedded NULs */
  const uint8_t bin[] = {'a', 0, 'b', 0, 0, 0xff, 0x80, 'z'};
  CHECK_RC(pm_post_message(parent, frame, bin, sizeof bin, "http://localhost"), PM_OK);
  CHECK(r.calls == 1);
  CHECK(r.data_len == sizeof bin);
  CHECK(memcmp(r.data, bin, sizeof bin) == 0);
  CHECK_STR(r.origin, "http://127.0.0.1");
  CHECK(!r.last_event_id_was_null);
  CHECK_STR(r.last_event_id, "");
  CHECK(r.source == parent);
  CHECK(r.target == frame);
  CHECK(r.user_data == &r);

  /* empty data: NULL allowed in, never NULL out */
  CHECK_RC(pm_post_message(parent, frame, NULL, 0, "*"), PM_OK);
  CHECK(r.calls == 2);
  CHECK(r.data_len == 0);
  CHECK(!r.data_was_null);
  const uint8_t one = 'q';
  CHECK_RC(pm_post_message(parent, frame, &one, 0, "*"), PM_OK);
  CHECK(r.calls == 3);
  CHECK(r.data_len == 0);
  CHECK(!r.data_was_null);

  /* pm_post_message_transfer with an empty transfer list is pm_post_message */
  CHECK_RC(pm_post_message_transfer(parent, frame, bin, 3, "/", NULL, 0), PM_DROPPED);
  CHECK(r.calls == 3);
  CHECK_RC(pm_post_message_transfer(parent, frame, bin, 3, "*", NULL, 0), PM_OK);
  CHECK(r.calls == 4);
  CHECK(r.data_len == 3 && memcmp(r.data, bin, 3) == 0);

  /* the other direction: source and target swap */
  recorded rp;
  memset(&rp, 0, sizeof rp);
  CHECK(pm_add_listener(parent, record_listener, &rp) > 0);
  CHECK_RC(pm_test_post(frame, parent, "hi", "http://127.0.0.1/any/path"), PM_OK);
  CHECK(rp.calls == 1);
  CHECK_STR(rp.origin, "http://localhost");
  CHECK(rp.source == frame);
  CHECK(rp.target == parent);

  /* posting to oneself */
  CHECK_RC(pm_test_post(parent, parent, "self", "/"), PM_OK);
  CHECK(rp.calls == 2);
  CHECK(rp.source == parent && rp.target == parent);
  CHECK_STR(rp.origin, "http://127.0.0.1");

  /* a window with no listeners: still PM_OK (delivered to nobody) */
  pm_window *lonely = pm_window_new("http://localhost/");
  REQUIRE(lonely != NULL);
  CHECK_RC(pm_test_post(parent, lonely, "x", "http://localhost"), PM_OK);
  CHECK_RC(pm_test_post(parent, lonely, "x", "https://localhost"), PM_DROPPED);

  CHECK_RC(pm_window_free(parent), PM_OK);
  CHECK_RC(pm_window_free(lonely), PM_OK);
}

/* ---------------------------------------------------------------- ordering */

typedef struct {
  char log[64];
  size_t len;
} order_log;

typedef struct {
  order_log *log;
  char tag;
} tagged;

static void tag_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  tagged *t = user_data;
  if (t->log->len + 1 < sizeof t->log->log) {
    t->log->log[t->log->len++] = t->tag;
    t->log->log[t->log->len] = '\0';
  }
}

static void test_ordering(void) {
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  order_log log = {"", 0};
  tagged t[5] = {{&log, 'A'}, {&log, 'B'}, {&log, 'C'}, {&log, 'D'}, {&log, 'E'}};
  uint64_t ids[5];
  for (int i = 0; i < 5; i++) {
    ids[i] = pm_add_listener(w, tag_listener, &t[i]);
    CHECK(ids[i] > 0);
    for (int j = 0; j < i; j++) CHECK(ids[i] != ids[j]);
  }
  CHECK_RC(pm_test_post(w, w, "x", "*"), PM_OK);
  CHECK_STR(log.log, "ABCDE");
  CHECK_RC(pm_remove_listener(w, ids[1]), PM_OK);
  CHECK_RC(pm_remove_listener(w, ids[3]), PM_OK);
  log.len = 0;
  log.log[0] = '\0';
  CHECK_RC(pm_test_post(w, w, "x", "*"), PM_OK);
  CHECK_STR(log.log, "ACE");
  CHECK(pm_add_listener(w, tag_listener, &t[1]) > 0); /* re-added: now last */
  log.len = 0;
  CHECK_RC(pm_test_post(w, w, "x", "*"), PM_OK);
  CHECK_STR(log.log, "ACEB");
  /* removing twice, unknown ids, id 0 */
  CHECK_RC(pm_remove_listener(w, ids[1]), PM_ERR_INVALID_HANDLE);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_remove_listener(w, 0), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_remove_listener(w, UINT64_MAX), PM_ERR_INVALID_HANDLE);
  /* an id belonging to another window is not this window's listener */
  pm_window *other = pm_window_new("http://a.example/");
  REQUIRE(other != NULL);
  CHECK_RC(pm_remove_listener(other, ids[0]), PM_ERR_INVALID_HANDLE);
  log.len = 0;
  CHECK_RC(pm_test_post(w, w, "x", "*"), PM_OK);
  CHECK_STR(log.log, "ACEB");                      /* A is still registered on w */
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK_RC(pm_window_free(other), PM_OK);
}

/* ---------------------------------------------------------------- changes during dispatch */

typedef struct {
  int calls;
  int destroyed;
  int destroyed_during_call; /* destroy ran while this listener's own call was running */
  int in_call;
} life;

static void life_destroy(void *user_data) {
  life *l = user_data;
  l->destroyed++;
  if (l->in_call) l->destroyed_during_call++;
}

static void life_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  life *l = user_data;
  l->calls++;
}

typedef struct {
  pm_window *window;
  uint64_t victim;
  life *victim_life;
  int calls;
  pm_result remove_rc;
  int victim_destroyed_when_remove_returned;
} remover;

static void remover_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  remover *r = user_data;
  r->calls++;
  if (r->calls == 1) {
    r->remove_rc = pm_remove_listener(r->window, r->victim);
    r->victim_destroyed_when_remove_returned = r->victim_life->destroyed;
  }
}

static void test_remove_during_dispatch(void) {
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  life before = {0, 0, 0, 0}, victim = {0, 0, 0, 0}, after = {0, 0, 0, 0};
  remover r;
  memset(&r, 0, sizeof r);
  r.window = w;
  r.victim_life = &victim;
  CHECK(pm_add_listener_full(w, life_listener, &before, life_destroy) > 0);
  CHECK(pm_add_listener(w, remover_listener, &r) > 0);
  r.victim = pm_add_listener_full(w, life_listener, &victim, life_destroy);
  CHECK(r.victim > 0);
  CHECK(pm_add_listener_full(w, life_listener, &after, life_destroy) > 0);

  CHECK_RC(pm_test_post(w, w, "x", "/"), PM_OK);
  CHECK_RC(r.remove_rc, PM_OK);
  CHECK(victim.calls == 0);                         /* removed before its turn: did not run */
  CHECK(r.victim_destroyed_when_remove_returned == 1); /* destroy ran inside pm_remove_listener */
  CHECK(victim.destroyed == 1);
  CHECK(before.calls == 1 && after.calls == 1);     /* the others still ran */

  CHECK_RC(pm_test_post(w, w, "x", "/"), PM_OK);
  CHECK(victim.calls == 0 && victim.destroyed == 1);
  CHECK(before.calls == 2 && after.calls == 2 && r.calls == 2);
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK(before.destroyed == 1 && after.destroyed == 1 && victim.destroyed == 1);
}

typedef struct {
  pm_window *window;
  life *added_life;
  int calls;
  uint64_t added_id;
} adder;

static void adder_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  adder *a = user_data;
  a->calls++;
  if (a->calls == 1) a->added_id = pm_add_listener_full(a->window, life_listener, a->added_life, life_destroy);
}

static void test_add_during_dispatch(void) {
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  life added = {0, 0, 0, 0};
  adder a = {w, &added, 0, 0};
  CHECK(pm_add_listener(w, adder_listener, &a) > 0);
  CHECK_RC(pm_test_post(w, w, "first", "/"), PM_OK);
  CHECK(a.added_id > 0);
  CHECK(added.calls == 0);                          /* not for the message being dispatched */
  CHECK_RC(pm_test_post(w, w, "second", "/"), PM_OK);
  CHECK(added.calls == 1);                          /* from the next one on */
  CHECK(a.calls == 2);
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK(added.destroyed == 1);
}

/* A listener that removes itself: destroy runs after its call returns, not inside it. */
typedef struct {
  pm_window *window;
  uint64_t id;
  int calls;
  int destroyed;
  int destroyed_seen_inside; /* destroy count observed after pm_remove_listener returned */
  pm_result remove_rc;
  int in_call;
  int destroyed_during_call;
} self_remover;

static void self_remover_destroy(void *user_data) {
  self_remover *s = user_data;
  s->destroyed++;
  if (s->in_call) s->destroyed_during_call++;
}

static void self_remover_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  self_remover *s = user_data;
  s->in_call = 1;
  s->calls++;
  s->remove_rc = pm_remove_listener(s->window, s->id);
  s->destroyed_seen_inside = s->destroyed;
  s->in_call = 0;
}

static void test_self_removal(void) {
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  self_remover s;
  memset(&s, 0, sizeof s);
  s.window = w;
  s.id = pm_add_listener_full(w, self_remover_listener, &s, self_remover_destroy);
  CHECK(s.id > 0);
  CHECK_RC(pm_test_post(w, w, "x", "/"), PM_OK);
  CHECK_RC(s.remove_rc, PM_OK);
  CHECK(s.calls == 1);
  CHECK(s.destroyed_seen_inside == 0);   /* not while its call is running */
  CHECK(s.destroyed_during_call == 0);
  CHECK(s.destroyed == 1);               /* ran once the call returned */
  CHECK_RC(pm_test_post(w, w, "x", "/"), PM_OK);
  CHECK(s.calls == 1);
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK(s.destroyed == 1);
}

/* destroy runs exactly once for pm_remove_listener, navigation and pm_window_free, and never
 * when adding fails. */
static void test_destroy_exactly_once(void) {
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  life removed = {0, 0, 0, 0}, navigated = {0, 0, 0, 0}, freed = {0, 0, 0, 0},
       never = {0, 0, 0, 0};
  uint64_t id = pm_add_listener_full(w, life_listener, &removed, life_destroy);
  CHECK(id > 0);
  CHECK(removed.destroyed == 0);
  CHECK_RC(pm_remove_listener(w, id), PM_OK);
  CHECK(removed.destroyed == 1);                   /* before pm_remove_listener returned */
  CHECK_RC(pm_remove_listener(w, id), PM_ERR_INVALID_HANDLE);
  CHECK(removed.destroyed == 1);

  CHECK(pm_add_listener_full(w, life_listener, &navigated, life_destroy) > 0);
  CHECK_RC(pm_window_navigate(w, "http://b.example/"), PM_OK);
  CHECK(navigated.destroyed == 1);                 /* before navigate returned */
  CHECK_RC(pm_test_post(w, w, "x", "*"), PM_OK);
  CHECK(navigated.calls == 0);

  CHECK(pm_add_listener_full(w, life_listener, &freed, life_destroy) > 0);
  CHECK_RC(pm_test_post(w, w, "x", "*"), PM_OK);
  CHECK(freed.calls == 1);
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK(freed.destroyed == 1);                     /* before free returned */
  CHECK(navigated.destroyed == 1 && removed.destroyed == 1);

  /* failed adds: 0 returned, destroy not called, the caller still owns user_data */
  CHECK(pm_add_listener_full(w, life_listener, &never, life_destroy) == 0); /* freed window */
  CHECK_HAS_ERROR();
  CHECK(pm_add_listener_full(NULL, life_listener, &never, life_destroy) == 0);
  CHECK_HAS_ERROR();
  pm_window *live = pm_window_new("http://a.example/");
  REQUIRE(live != NULL);
  CHECK(pm_add_listener_full(live, NULL, &never, life_destroy) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_add_listener_full((pm_window *)(uintptr_t)0x1234, life_listener, &never, life_destroy) == 0);
  CHECK(never.destroyed == 0 && never.calls == 0);

  /* destroy may be NULL */
  uint64_t plain = pm_add_listener_full(live, life_listener, &never, NULL);
  CHECK(plain > 0);
  CHECK_RC(pm_remove_listener(live, plain), PM_OK);
  CHECK(never.destroyed == 0);
  CHECK_RC(pm_window_free(live), PM_OK);
}

/* ---------------------------------------------------------------- depth limit */

typedef struct {
  int calls;
  int ok_returns;
  int depth_returns;
  int other_returns;
  int error_text_present;
} recursion;

static void recursive_listener(const pm_message_event *event, void *user_data) {
  recursion *r = user_data;
  r->calls++;
  pm_result rc = pm_test_post(event->target, event->target, "again", "/");
  if (rc == PM_OK) {
    r->ok_returns++;
  } else if (rc == PM_ERR_DEPTH) {
    r->depth_returns++;
    r->error_text_present = pm_last_error()[0] != '\0';
  } else {
    r->other_returns++;
  }
}

static void test_depth_limit(void) {
  _Static_assert(PM_MAX_DISPATCH_DEPTH >= 16, "PM_MAX_DISPATCH_DEPTH is at least 16");
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  recursion r = {0, 0, 0, 0, 0};
  CHECK(pm_add_listener(w, recursive_listener, &r) > 0);
  CHECK_RC(pm_test_post(w, w, "go", "/"), PM_OK);
  CHECK(r.calls == PM_MAX_DISPATCH_DEPTH);
  CHECK(r.depth_returns == 1);                 /* only the innermost post was refused */
  CHECK(r.ok_returns == PM_MAX_DISPATCH_DEPTH - 1);
  CHECK(r.other_returns == 0);
  CHECK(r.error_text_present);
  if (r.calls != PM_MAX_DISPATCH_DEPTH)
    fprintf(stderr, "    listener ran %d times, PM_MAX_DISPATCH_DEPTH is %d\n", r.calls,
            PM_MAX_DISPATCH_DEPTH);

  /* the depth is restored afterwards: the same thing works again */
  memset(&r, 0, sizeof r);
  CHECK_RC(pm_test_post(w, w, "go", "/"), PM_OK);
  CHECK(r.calls == PM_MAX_DISPATCH_DEPTH);
  CHECK_RC(pm_window_free(w), PM_OK);
}

/* Ping-pong between two windows also counts every nested dispatch. */
static void pingpong_listener(const pm_message_event *event, void *user_data) {
  recursion *r = user_data;
  r->calls++;
  pm_result rc = pm_post_message(event->target, event->source, event->data, event->data_len,
                                 event->origin);
  if (rc == PM_OK) r->ok_returns++;
  else if (rc == PM_ERR_DEPTH) r->depth_returns++;
  else r->other_returns++;
}

static void test_depth_pingpong(void) {
  pm_window *a = pm_window_new("http://a.example/");
  pm_window *b = pm_window_new("http://b.example/");
  REQUIRE(a && b);
  recursion r = {0, 0, 0, 0, 0};
  CHECK(pm_add_listener(a, pingpong_listener, &r) > 0);
  CHECK(pm_add_listener(b, pingpong_listener, &r) > 0);
  CHECK_RC(pm_test_post(a, b, "ping", "http://b.example"), PM_OK);
  CHECK(r.calls == PM_MAX_DISPATCH_DEPTH);
  CHECK(r.depth_returns == 1);
  CHECK(r.other_returns == 0);
  pm_window_free(a);
  pm_window_free(b);
}

/* ---------------------------------------------------------------- navigation and freeing */

static void test_navigation(void) {
  pm_window *top = pm_window_new("http://127.0.0.1/");
  REQUIRE(top != NULL);
  pm_window *child = pm_window_new_child(top, "http://localhost/");
  REQUIRE(child != NULL);
  pm_window *grandchild = pm_window_new_child(child, "http://localhost/inner");
  REQUIRE(grandchild != NULL);
  life top_l = {0, 0, 0, 0}, child_l = {0, 0, 0, 0}, grand_l = {0, 0, 0, 0};
  CHECK(pm_add_listener_full(top, life_listener, &top_l, life_destroy) > 0);
  CHECK(pm_add_listener_full(child, life_listener, &child_l, life_destroy) > 0);
  CHECK(pm_add_listener_full(grandchild, life_listener, &grand_l, life_destroy) > 0);

  /* an invalid URL changes nothing */
  CHECK_RC(pm_window_navigate(top, "not a url"), PM_ERR_INVALID_URL);
  CHECK_HAS_ERROR();
  CHECK_STR(pm_test_origin(top), "http://127.0.0.1");
  CHECK(pm_window_parent(child) == top);
  CHECK_RC(pm_test_post(top, top, "x", "/"), PM_OK);
  CHECK(top_l.calls == 1 && top_l.destroyed == 0);

  /* navigating the child frees the grandchild */
  CHECK_RC(pm_window_navigate(child, "https://example.org/"), PM_OK);
  CHECK(child_l.destroyed == 1 && grand_l.destroyed == 1);
  CHECK_STR(pm_test_origin(child), "https://example.org");
  CHECK(pm_window_parent(child) == top);            /* the handle and its place stay */
  CHECK(pm_window_parent(grandchild) == NULL);
  CHECK_RC(pm_test_post(top, grandchild, "x", "*"), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(grandchild), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_test_post(top, child, "x", "http://localhost"), PM_DROPPED);
  CHECK_RC(pm_test_post(top, child, "x", "https://example.org"), PM_OK);
  CHECK(child_l.calls == 0);                        /* old listener gone */

  /* navigating the top frees its children (recursively) */
  pm_window *grand2 = pm_window_new_child(child, "about:blank");
  REQUIRE(grand2 != NULL);
  CHECK_RC(pm_window_navigate(top, "http://127.0.0.1/next"), PM_OK);
  CHECK(top_l.destroyed == 1);
  CHECK_STR(pm_test_origin(top), "http://127.0.0.1");
  CHECK_RC(pm_test_post(top, child, "x", "*"), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_test_post(top, grand2, "x", "*"), PM_ERR_INVALID_HANDLE);
  CHECK(pm_window_origin(child, NULL, 0) == 0);
  CHECK_RC(pm_test_post(top, top, "x", "/"), PM_OK);
  CHECK(top_l.calls == 1);

  /* a navigated window can get listeners and children again */
  life again = {0, 0, 0, 0};
  CHECK(pm_add_listener_full(top, life_listener, &again, life_destroy) > 0);
  pm_window *child2 = pm_window_new_child(top, "http://localhost/");
  REQUIRE(child2 != NULL);
  CHECK_RC(pm_test_post(child2, top, "x", "http://127.0.0.1"), PM_OK);
  CHECK(again.calls == 1);
  CHECK_RC(pm_window_free(top), PM_OK);
  CHECK(again.destroyed == 1);
  CHECK_RC(pm_window_free(child2), PM_ERR_INVALID_HANDLE);
}

static void test_free_recursive(void) {
  pm_window *top = pm_window_new("http://127.0.0.1/");
  REQUIRE(top != NULL);
  pm_window *c1 = pm_window_new_child(top, "http://localhost/1");
  pm_window *c2 = pm_window_new_child(top, "about:blank");
  REQUIRE(c1 && c2);
  pm_window *g1 = pm_window_new_child(c1, "http://localhost/g");
  pm_window *g2 = pm_window_new_child(c2, "data:,x");
  REQUIRE(g1 && g2);
  pm_window *gg = pm_window_new_child(g1, "about:blank");
  REQUIRE(gg != NULL);

  CHECK(pm_window_parent(top) == NULL);
  CHECK(pm_window_parent(c1) == top);
  CHECK(pm_window_parent(c2) == top);
  CHECK(pm_window_parent(g1) == c1);
  CHECK(pm_window_parent(g2) == c2);
  CHECK(pm_window_parent(gg) == g1);
  CHECK_STR(pm_test_origin(gg), "http://localhost");

  life l[6];
  memset(l, 0, sizeof l);
  pm_window *all[6] = {top, c1, c2, g1, g2, gg};
  for (int i = 0; i < 6; i++) CHECK(pm_add_listener_full(all[i], life_listener, &l[i], life_destroy) > 0);

  /* freeing a child alone leaves the rest */
  pm_window *solo = pm_window_new_child(c2, "http://localhost/solo");
  REQUIRE(solo != NULL);
  CHECK_RC(pm_window_free(solo), PM_OK);
  CHECK_RC(pm_window_free(solo), PM_ERR_INVALID_HANDLE);
  CHECK(pm_window_parent(c2) == top);

  CHECK_RC(pm_window_free(top), PM_OK);
  for (int i = 0; i < 6; i++) {
    CHECK(l[i].destroyed == 1);
    CHECK_RC(pm_window_free(all[i]), PM_ERR_INVALID_HANDLE);
    CHECK(pm_window_parent(all[i]) == NULL);
    CHECK(pm_add_listener(all[i], life_listener, &l[i]) == 0);
  }
}

/* A listener that frees its own window. */
typedef struct {
  int calls;
  int destroyed;
  int in_call;
  int destroyed_during_call;
  pm_result free_rc;
  pm_result reply_rc;
} freeing;

static void freeing_destroy(void *user_data) {
  freeing *f = user_data;
  f->destroyed++;
  if (f->in_call) f->destroyed_during_call++;
}

static void freeing_listener(const pm_message_event *event, void *user_data) {
  freeing *f = user_data;
  f->in_call = 1;
  f->calls++;
  f->free_rc = pm_window_free(event->target);
  /* the event stays readable for the rest of the call */
  CHECK(event->data_len == 3 && memcmp(event->data, "bye", 3) == 0);
  CHECK_STR(event->origin, "http://127.0.0.1");
  f->reply_rc = pm_test_post(event->target, event->source, "x", "*"); /* own handle is gone */
  f->in_call = 0;
}

static void test_free_from_own_listener(void) {
  pm_window *top = pm_window_new("http://127.0.0.1/");
  REQUIRE(top != NULL);
  pm_window *frame = pm_window_new_child(top, "http://localhost/");
  REQUIRE(frame != NULL);
  pm_window *inner = pm_window_new_child(frame, "http://localhost/inner");
  REQUIRE(inner != NULL);
  freeing f;
  memset(&f, 0, sizeof f);
  life later = {0, 0, 0, 0}, inner_l = {0, 0, 0, 0};
  CHECK(pm_add_listener_full(frame, freeing_listener, &f, freeing_destroy) > 0);
  CHECK(pm_add_listener_full(frame, life_listener, &later, life_destroy) > 0);
  CHECK(pm_add_listener_full(inner, life_listener, &inner_l, life_destroy) > 0);

  pm_result rc = pm_test_post(top, frame, "bye", "http://localhost");
  CHECK(rc == PM_OK);
  CHECK(f.calls == 1);
  CHECK_RC(f.free_rc, PM_OK);
  CHECK_RC(f.reply_rc, PM_ERR_INVALID_HANDLE);
  CHECK(later.calls == 0);                  /* freed before its turn */
  CHECK(later.destroyed == 1);
  CHECK(inner_l.destroyed == 1);
  CHECK(f.destroyed == 1);                  /* after the freeing call returned */
  CHECK(f.destroyed_during_call == 0);
  CHECK_RC(pm_test_post(top, frame, "x", "*"), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_test_post(top, inner, "x", "*"), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(frame), PM_ERR_INVALID_HANDLE);
  /* the parent is untouched and no longer lists the frame */
  CHECK_STR(pm_test_origin(top), "http://127.0.0.1");
  CHECK_RC(pm_window_free(top), PM_OK);
  CHECK(f.destroyed == 1 && later.destroyed == 1);
}

/* A listener that frees the sender: replying through event->source then fails cleanly. */
typedef struct {
  pm_result free_rc;
  pm_result reply_rc;
  int calls;
} sender_freer;

static void sender_freer_listener(const pm_message_event *event, void *user_data) {
  sender_freer *s = user_data;
  s->calls++;
  s->free_rc = pm_window_free(event->source);
  s->reply_rc = pm_test_post(event->target, event->source, "reply", event->origin);
}

static void test_free_sender_from_listener(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(a && b);
  sender_freer s = {PM_OK, PM_OK, 0};
  CHECK(pm_add_listener(b, sender_freer_listener, &s) > 0);
  CHECK_RC(pm_test_post(a, b, "x", "*"), PM_OK);
  CHECK(s.calls == 1);
  CHECK_RC(s.free_rc, PM_OK);
  CHECK_RC(s.reply_rc, PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(a), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(b), PM_OK);
}

/* A listener that navigates its own window: it and the others of the old document stop, and
 * its destroy runs after it returns. */
typedef struct {
  int calls;
  int destroyed;
  int in_call;
  int destroyed_during_call;
  pm_result nav_rc;
} navigator;

static void navigator_destroy(void *user_data) {
  navigator *n = user_data;
  n->destroyed++;
  if (n->in_call) n->destroyed_during_call++;
}

static void navigator_listener(const pm_message_event *event, void *user_data) {
  navigator *n = user_data;
  n->in_call = 1;
  n->calls++;
  n->nav_rc = pm_window_navigate(event->target, "https://elsewhere.example/");
  n->in_call = 0;
}

static void test_navigate_from_listener(void) {
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  navigator n;
  memset(&n, 0, sizeof n);
  life later = {0, 0, 0, 0};
  CHECK(pm_add_listener_full(w, navigator_listener, &n, navigator_destroy) > 0);
  CHECK(pm_add_listener_full(w, life_listener, &later, life_destroy) > 0);
  CHECK_RC(pm_test_post(w, w, "x", "/"), PM_OK);
  CHECK_RC(n.nav_rc, PM_OK);
  CHECK(n.calls == 1 && later.calls == 0 && later.destroyed == 1);
  CHECK(n.destroyed == 1 && n.destroyed_during_call == 0);
  CHECK_STR(pm_test_origin(w), "https://elsewhere.example");
  CHECK_RC(pm_test_post(w, w, "x", "/"), PM_OK);
  CHECK(n.calls == 1);
  CHECK_RC(pm_window_free(w), PM_OK);
  CHECK(n.destroyed == 1);
}

/* A listener removed by a nested dispatch while its own call is still running further up the
 * stack: destroy waits for that call to return. */
typedef struct {
  pm_window *other;
  int calls;
  int destroyed;
  int in_call;
  int destroyed_during_call;
} outer_state;

typedef struct {
  pm_window *outer_window;
  uint64_t outer_id;
  outer_state *outer;
  pm_result remove_rc;
  int outer_destroyed_after_remove;
} inner_state;

static void outer_destroy(void *user_data) {
  outer_state *o = user_data;
  o->destroyed++;
  if (o->in_call) o->destroyed_during_call++;
}

static void outer_listener(const pm_message_event *event, void *user_data) {
  outer_state *o = user_data;
  o->in_call = 1;
  o->calls++;
  CHECK_RC(pm_test_post(event->target, o->other, "nested", "*"), PM_OK);
  o->in_call = 0;
}

static void inner_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  inner_state *i = user_data;
  i->remove_rc = pm_remove_listener(i->outer_window, i->outer_id);
  i->outer_destroyed_after_remove = i->outer->destroyed;
}

static void test_remove_running_listener_from_nested_dispatch(void) {
  pm_window *w = pm_window_new("http://a.example/");
  pm_window *x = pm_window_new("http://b.example/");
  REQUIRE(w && x);
  outer_state o;
  memset(&o, 0, sizeof o);
  o.other = x;
  inner_state in;
  memset(&in, 0, sizeof in);
  in.outer_window = w;
  in.outer = &o;
  in.outer_id = pm_add_listener_full(w, outer_listener, &o, outer_destroy);
  CHECK(in.outer_id > 0);
  CHECK(pm_add_listener(x, inner_listener, &in) > 0);
  CHECK_RC(pm_test_post(w, w, "go", "/"), PM_OK);
  CHECK(o.calls == 1);
  CHECK_RC(in.remove_rc, PM_OK);
  CHECK(in.outer_destroyed_after_remove == 0); /* its call was still running */
  CHECK(o.destroyed_during_call == 0);
  CHECK(o.destroyed == 1);                     /* ran when that call returned */
  CHECK_RC(pm_test_post(w, w, "go", "/"), PM_OK);
  CHECK(o.calls == 1);
  pm_window_free(w);
  pm_window_free(x);
  CHECK(o.destroyed == 1);
}

int main(void) {
  test_event_fields();
  test_ordering();
  test_remove_during_dispatch();
  test_add_during_dispatch();
  test_self_removal();
  test_destroy_exactly_once();
  test_depth_limit();
  test_depth_pingpong();
  test_navigation();
  test_free_recursive();
  test_free_from_own_listener();
  test_free_sender_from_listener();
  test_navigate_from_listener();
  test_remove_running_listener_from_nested_dispatch();
  TEST_EXIT("test_listeners");
}
