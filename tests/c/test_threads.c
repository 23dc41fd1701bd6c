/* Cross-thread use: concurrent posts with exact counts, freeing and navigating windows while
 * other threads post to them, listener removal racing with dispatch, and per-thread state. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"

#define THREADS 4
#define MESSAGES 2000

static void tiny_sleep(long ns) {
  struct timespec ts = {0, ns};
  nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- exact counts */

typedef struct {
  atomic_long count;
  atomic_long bad_events;
  pm_window *expected_target;
} shared_counter;

typedef struct {
  int index;
  pm_window *own_src;
  pm_window *own_dst;
  pm_window *shared_dst;
  shared_counter own_counter;
  pthread_t self; /* set by the thread itself */
  atomic_int wrong_thread;
  atomic_long post_failures;
} poster;

/* Listener on each poster's own window: runs on the posting thread, with the right fields. */
static void own_listener(const pm_message_event *event, void *user_data) {
  poster *p = user_data;
  atomic_fetch_add(&p->own_counter.count, 1);
  if (!pthread_equal(pthread_self(), p->self)) atomic_fetch_add(&p->wrong_thread, 1);
  if (event->source != p->own_src || event->target != p->own_dst || event->data_len != sizeof(int) ||
      strcmp(event->origin, "http://127.0.0.1") != 0) {
    atomic_fetch_add(&p->own_counter.bad_events, 1);
    return;
  }
  int sender;
  memcpy(&sender, event->data, sizeof sender);
  if (sender != p->index) atomic_fetch_add(&p->own_counter.bad_events, 1);
}

static atomic_long per_sender[THREADS];

static void shared_listener(const pm_message_event *event, void *user_data) {
  shared_counter *c = user_data;
  atomic_fetch_add(&c->count, 1);
  int sender = -1;
  if (event->data_len == sizeof sender) memcpy(&sender, event->data, sizeof sender);
  if (event->target != c->expected_target || sender < 0 || sender >= THREADS ||
      strcmp(event->origin, "http://127.0.0.1") != 0) {
    atomic_fetch_add(&c->bad_events, 1);
    return;
  }
  atomic_fetch_add(&per_sender[sender], 1);
}

static void *poster_main(void *arg) {
  poster *p = arg;
  p->self = pthread_self();
  for (int i = 0; i < MESSAGES; i++) {
    pm_result a = pm_post_message(p->own_src, p->own_dst, (const uint8_t *)&p->index,
                                  sizeof p->index, "http://localhost");
    pm_result b = pm_post_message(p->own_src, p->shared_dst, (const uint8_t *)&p->index,
                                  sizeof p->index, "http://localhost:80/shared");
    if (a != PM_OK || b != PM_OK) atomic_fetch_add(&p->post_failures, 1);
    /* and a dropped one, which must not count anywhere */
    if (pm_post_message(p->own_src, p->shared_dst, (const uint8_t *)&p->index, sizeof p->index,
                        "https://localhost") != PM_DROPPED)
      atomic_fetch_add(&p->post_failures, 1);
  }
  return NULL;
}

static void test_exact_counts(void) {
  pm_window *shared = pm_window_new("http://localhost/shared");
  REQUIRE(shared != NULL);
  shared_counter shared_count;
  atomic_init(&shared_count.count, 0);
  atomic_init(&shared_count.bad_events, 0);
  shared_count.expected_target = shared;
  CHECK(pm_add_listener(shared, shared_listener, &shared_count) > 0);

  static poster posters[THREADS];
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    poster *p = &posters[i];
    p->index = i;
    p->own_src = pm_window_new("http://127.0.0.1/");
    REQUIRE(p->own_src != NULL);
    p->own_dst = pm_window_new_child(p->own_src, "http://localhost/frame");
    REQUIRE(p->own_dst != NULL);
    p->shared_dst = shared;
    atomic_init(&p->own_counter.count, 0);
    atomic_init(&p->own_counter.bad_events, 0);
    atomic_init(&p->wrong_thread, 0);
    atomic_init(&p->post_failures, 0);
    atomic_init(&per_sender[i], 0);
    CHECK(pm_add_listener(p->own_dst, own_listener, p) > 0);
  }
  for (int i = 0; i < THREADS; i++) REQUIRE(pthread_create(&threads[i], NULL, poster_main, &posters[i]) == 0);
  for (int i = 0; i < THREADS; i++) REQUIRE(pthread_join(threads[i], NULL) == 0);

  for (int i = 0; i < THREADS; i++) {
    poster *p = &posters[i];
    CHECK(atomic_load(&p->own_counter.count) == MESSAGES);
    CHECK(atomic_load(&p->own_counter.bad_events) == 0);
    CHECK(atomic_load(&p->wrong_thread) == 0);
    CHECK(atomic_load(&p->post_failures) == 0);
    CHECK(atomic_load(&per_sender[i]) == MESSAGES);
    CHECK_RC(pm_window_free(p->own_src), PM_OK);
  }
  CHECK(atomic_load(&shared_count.count) == (long)THREADS * MESSAGES);
  CHECK(atomic_load(&shared_count.bad_events) == 0);
  CHECK_RC(pm_window_free(shared), PM_OK);
}

/* ---------------------------------------------------------------- free while posting */

#define VICTIMS 64

/* Per-listener lifetime tracking: a call must never start after destroy, destroy must run
 * exactly once and only when no call is running. */
typedef struct {
  atomic_int in_call;
  atomic_int destroyed;
  atomic_long calls;
  atomic_int call_after_destroy;
  atomic_int destroy_during_call;
} tracked;

static void tracked_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  tracked *t = user_data;
  atomic_fetch_add(&t->in_call, 1);
  if (atomic_load(&t->destroyed)) atomic_fetch_add(&t->call_after_destroy, 1);
  atomic_fetch_add(&t->calls, 1);
  sched_yield();
  atomic_fetch_sub(&t->in_call, 1);
}

static void tracked_destroy(void *user_data) {
  tracked *t = user_data;
  if (atomic_load(&t->in_call) != 0) atomic_fetch_add(&t->destroy_during_call, 1);
  atomic_fetch_add(&t->destroyed, 1);
}

static void tracked_init(tracked *t) {
  atomic_init(&t->in_call, 0);
  atomic_init(&t->destroyed, 0);
  atomic_init(&t->calls, 0);
  atomic_init(&t->call_after_destroy, 0);
  atomic_init(&t->destroy_during_call, 0);
}

static void tracked_check(tracked *t, int expected_destroys) {
  CHECK(atomic_load(&t->destroyed) == expected_destroys);
  CHECK(atomic_load(&t->call_after_destroy) == 0);
  CHECK(atomic_load(&t->destroy_during_call) == 0);
  CHECK(atomic_load(&t->in_call) == 0);
}

static pm_window *victims[VICTIMS];
static tracked victim_life[VICTIMS][2];
static atomic_int stop_posting;

static atomic_int all_freed; /* set once every victim's pm_window_free has returned */

typedef struct {
  pm_window *src;
  unsigned seed;
  atomic_long posts;
  atomic_long posts_after_free;
  long ok;
  long invalid;
  long other;
  long ok_after_free; /* a post started after the window was freed must not deliver */
} racer;

static void *racer_main(void *arg) {
  racer *r = arg;
  unsigned x = r->seed;
  while (!atomic_load(&stop_posting)) {
    x = x * 1103515245u + 12345u;
    pm_window *target = victims[(x >> 8) % VICTIMS];
    int after = atomic_load(&all_freed);
    pm_result rc = pm_post_message(r->src, target, (const uint8_t *)"race", 4, "*");
    if (rc == PM_OK) r->ok++;
    else if (rc == PM_ERR_INVALID_HANDLE) r->invalid++;
    else r->other++;
    if (after && rc == PM_OK) r->ok_after_free++;
    atomic_fetch_add(&r->posts, 1);
    if (after) atomic_fetch_add(&r->posts_after_free, 1);
    sched_yield(); /* give the freeing thread a chance (valgrind runs one thread at a time) */
    /* and some other calls on the possibly-freed window */
    if ((x & 15) == 0) (void)pm_window_origin(target, NULL, 0);
    if ((x & 31) == 1) (void)pm_window_parent(target);
  }
  return NULL;
}

static void test_free_while_posting(void) {
  pm_window *src = pm_window_new("http://127.0.0.1/");
  REQUIRE(src != NULL);
  pm_window *top = pm_window_new("http://localhost/");
  REQUIRE(top != NULL);
  for (int i = 0; i < VICTIMS; i++) {
    /* half are children of one top window, so freeing it frees them all at once */
    victims[i] = i < VICTIMS / 2 ? pm_window_new("http://localhost/") : pm_window_new_child(top, "about:blank");
    REQUIRE(victims[i] != NULL);
    for (int k = 0; k < 2; k++) {
      tracked_init(&victim_life[i][k]);
      CHECK(pm_add_listener_full(victims[i], tracked_listener, &victim_life[i][k], tracked_destroy) > 0);
    }
  }
  atomic_store(&stop_posting, 0);
  atomic_store(&all_freed, 0);
  static racer racers[THREADS];
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    racers[i].src = src;
    racers[i].seed = 17u + 31u * (unsigned)i;
    atomic_init(&racers[i].posts, 0);
    atomic_init(&racers[i].posts_after_free, 0);
    racers[i].ok = racers[i].invalid = racers[i].other = racers[i].ok_after_free = 0;
    REQUIRE(pthread_create(&threads[i], NULL, racer_main, &racers[i]) == 0);
  }
  /* let every poster get going, then free the windows under them */
  for (int i = 0; i < THREADS; i++)
    while (atomic_load(&racers[i].posts) < 50) tiny_sleep(100000);
  for (int i = 0; i < VICTIMS / 2; i++) {
    CHECK_RC(pm_window_free(victims[i]), PM_OK);
    tiny_sleep(100000);
  }
  CHECK_RC(pm_window_free(top), PM_OK); /* frees the other half, its children */
  atomic_store(&all_freed, 1);
  for (int i = 0; i < THREADS; i++)
    while (atomic_load(&racers[i].posts_after_free) < 50) tiny_sleep(100000);
  atomic_store(&stop_posting, 1);
  long ok = 0, invalid = 0, other = 0, ok_after_free = 0;
  for (int i = 0; i < THREADS; i++) {
    REQUIRE(pthread_join(threads[i], NULL) == 0);
    ok += racers[i].ok;
    invalid += racers[i].invalid;
    other += racers[i].other;
    ok_after_free += racers[i].ok_after_free;
  }
  CHECK(other == 0);         /* only PM_OK or PM_ERR_INVALID_HANDLE */
  CHECK(ok_after_free == 0); /* once pm_window_free returned, the handle is rejected */
  CHECK(invalid > 0);
  printf("  free while posting: %ld PM_OK, %ld PM_ERR_INVALID_HANDLE, %ld other\n", ok, invalid, other);
  for (int i = 0; i < VICTIMS; i++) {
    for (int k = 0; k < 2; k++) tracked_check(&victim_life[i][k], 1);
    CHECK_RC(pm_window_free(victims[i]), PM_ERR_INVALID_HANDLE);
  }
  CHECK_RC(pm_window_free(src), PM_OK);
}

/* ---------------------------------------------------------------- remove / navigate racing */

static pm_window *busy;
static atomic_long busy_posts_ok;

static void *busy_poster_main(void *arg) {
  pm_window *src = arg;
  while (!atomic_load(&stop_posting)) {
    pm_result rc = pm_post_message(src, busy, (const uint8_t *)"busy", 4, "*");
    if (rc == PM_OK) atomic_fetch_add(&busy_posts_ok, 1);
    else CHECK_RC(rc, PM_OK);
    sched_yield();
  }
  return NULL;
}

#define ROUNDS 1000

static void test_remove_and_navigate_while_posting(void) {
  pm_window *src = pm_window_new("http://127.0.0.1/");
  busy = pm_window_new("http://localhost/");
  REQUIRE(src && busy);
  static tracked removed_lives[ROUNDS];
  static tracked navigated_lives[ROUNDS];
  atomic_store(&stop_posting, 0);
  atomic_store(&busy_posts_ok, 0);
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) REQUIRE(pthread_create(&threads[i], NULL, busy_poster_main, src) == 0);
  while (atomic_load(&busy_posts_ok) < 10 * THREADS) tiny_sleep(100000); /* posters are going */

  for (int round = 0; round < ROUNDS; round++) {
    tracked_init(&removed_lives[round]);
    tracked_init(&navigated_lives[round]);
    uint64_t id = pm_add_listener_full(busy, tracked_listener, &removed_lives[round], tracked_destroy);
    CHECK(id > 0);
    CHECK(pm_add_listener_full(busy, tracked_listener, &navigated_lives[round], tracked_destroy) > 0);
    sched_yield();
    CHECK_RC(pm_remove_listener(busy, id), PM_OK);
    CHECK_RC(pm_remove_listener(busy, id), PM_ERR_INVALID_HANDLE);
    CHECK_RC(pm_window_navigate(busy, round % 2 ? "http://localhost/a" : "https://localhost/b"), PM_OK);
  }
  /* wait for running calls to drain before checking destroy counts */
  atomic_store(&stop_posting, 1);
  for (int i = 0; i < THREADS; i++) REQUIRE(pthread_join(threads[i], NULL) == 0);
  long calls = 0;
  for (int round = 0; round < ROUNDS; round++) {
    tracked_check(&removed_lives[round], 1);
    tracked_check(&navigated_lives[round], 1);
    calls += atomic_load(&removed_lives[round].calls) + atomic_load(&navigated_lives[round].calls);
  }
  printf("  remove/navigate while posting: %ld posts, %ld listener calls\n",
         (long)atomic_load(&busy_posts_ok), calls);
  CHECK(atomic_load(&busy_posts_ok) > 0);
  CHECK_RC(pm_window_free(busy), PM_OK);
  CHECK_RC(pm_window_free(src), PM_OK);
}

/* ---------------------------------------------------------------- per-thread last error */

typedef struct {
  char first[256];
  char after[256];
  pm_result rc;
} error_probe;

static void *error_thread_main(void *arg) {
  error_probe *e = arg;
  snprintf(e->first, sizeof e->first, "%s", pm_last_error()); /* fresh thread: "" */
  pm_window *w = pm_window_new("http://a.example/");
  if (w == NULL) return NULL;
  e->rc = pm_test_post(w, w, "x", "bad origin");
  snprintf(e->after, sizeof e->after, "%s", pm_last_error());
  pm_window_free(w);
  return NULL;
}

static void test_last_error_is_per_thread(void) {
  CHECK(pm_window_new("definitely not a url") == NULL);
  char mine[512];
  snprintf(mine, sizeof mine, "%s", pm_last_error());
  CHECK(mine[0] != '\0');

  error_probe e;
  memset(&e, 0, sizeof e);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, error_thread_main, &e) == 0);
  REQUIRE(pthread_join(t, NULL) == 0);
  CHECK_STR(e.first, "");
  CHECK_RC(e.rc, PM_ERR_SYNTAX);
  CHECK(e.after[0] != '\0');
  CHECK(strcmp(e.after, mine) != 0);
  CHECK_STR(pm_last_error(), mine); /* the other thread's failure did not touch ours */
}

/* ---------------------------------------------------------------- depth is per thread */

typedef struct {
  int calls;
  pm_result innermost;
} depth_probe;

static void depth_listener(const pm_message_event *event, void *user_data) {
  depth_probe *d = user_data;
  d->calls++;
  pm_result rc = pm_test_post(event->target, event->target, "again", "/");
  if (rc != PM_OK) d->innermost = rc;
}

typedef struct {
  pm_window *w;
  depth_probe probe;
  pm_result outer;
} depth_job;

static void *depth_thread_main(void *arg) {
  depth_job *j = arg;
  j->outer = pm_test_post(j->w, j->w, "go", "/");
  return NULL;
}

static void test_depth_per_thread(void) {
  depth_job jobs[THREADS];
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    jobs[i].w = pm_window_new("http://a.example/");
    REQUIRE(jobs[i].w != NULL);
    jobs[i].probe = (depth_probe){0, PM_OK};
    CHECK(pm_add_listener(jobs[i].w, depth_listener, &jobs[i].probe) > 0);
  }
  for (int i = 0; i < THREADS; i++) REQUIRE(pthread_create(&threads[i], NULL, depth_thread_main, &jobs[i]) == 0);
  for (int i = 0; i < THREADS; i++) {
    REQUIRE(pthread_join(threads[i], NULL) == 0);
    CHECK_RC(jobs[i].outer, PM_OK);
    CHECK(jobs[i].probe.calls == PM_MAX_DISPATCH_DEPTH);
    CHECK_RC(jobs[i].probe.innermost, PM_ERR_DEPTH);
    CHECK_RC(pm_window_free(jobs[i].w), PM_OK);
  }
}

/* ---- Posting while a thread exits: from a pthread-key destructor, which glibc runs after the
 * thread's C++/Rust thread-local destructors, so the library's per-thread state is gone by
 * then. Posts must still work (uncached), errors must still be reported, and nothing may crash
 * (this used to abort in pm_last_error() after an earlier error on the thread). */

static pthread_key_t exit_key;
static pm_window *exit_src, *exit_dst;
static atomic_int exit_calls;
static int exit_post_rc = -1, exit_bad_rc = -1, exit_depth_rc = -1;
static char exit_message[256];

static void exit_listener(const pm_message_event *event, void *user_data) {
  (void)user_data;
  atomic_fetch_add(&exit_calls, 1);
  /* Re-enter while exiting: the depth limit still holds on this thread. */
  if (event->data_len == 1 && event->data[0] == 'r') {
    pm_result rc = pm_post_message(exit_src, exit_dst, (const uint8_t *)"r", 1, "*");
    if (rc != PM_OK) exit_depth_rc = rc; /* the innermost post's refusal */
  }
}

static void exit_key_destructor(void *value) {
  (void)value;
  exit_post_rc = pm_post_message(exit_src, exit_dst, (const uint8_t *)"x", 1, "http://localhost");
  exit_bad_rc = pm_post_message(exit_src, NULL, (const uint8_t *)"x", 1, "*");
  snprintf(exit_message, sizeof exit_message, "%s", pm_last_error());
  pm_post_message(exit_src, exit_dst, (const uint8_t *)"r", 1, "*");
}

static void *exiting_thread_main(void *arg) {
  (void)arg;
  pthread_setspecific(exit_key, (void *)1);
  /* Use the library normally first: a cached post and a failure, so that the thread's state
   * and last error exist (and are destroyed) before the key destructor runs. */
  CHECK_RC(pm_post_message(exit_src, exit_dst, (const uint8_t *)"x", 1, "*"), PM_OK);
  CHECK_RC(pm_post_message(NULL, exit_dst, (const uint8_t *)"x", 1, "*"), PM_ERR_NULL_ARGUMENT);
  return NULL;
}

static void test_post_while_thread_exits(void) {
  exit_src = pm_window_new("http://127.0.0.1/");
  exit_dst = pm_window_new("http://localhost/");
  REQUIRE(exit_src && exit_dst);
  CHECK(pm_add_listener(exit_dst, exit_listener, NULL) != 0);
  REQUIRE(pthread_key_create(&exit_key, exit_key_destructor) == 0);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, exiting_thread_main, NULL) == 0);
  pthread_join(t, NULL);
  CHECK_RC(exit_post_rc, PM_OK);
  CHECK_RC(exit_bad_rc, PM_ERR_NULL_ARGUMENT);
  CHECK_STR(exit_message, "target must not be NULL");
  CHECK_RC(exit_depth_rc, PM_ERR_DEPTH);
  /* 1 normal post + 1 from the destructor + PM_MAX_DISPATCH_DEPTH nested ones. */
  CHECK(atomic_load(&exit_calls) == 2 + PM_MAX_DISPATCH_DEPTH);
  pthread_key_delete(exit_key);
  CHECK_RC(pm_window_free(exit_src), PM_OK);
  CHECK_RC(pm_window_free(exit_dst), PM_OK);
}

int main(void) {
  test_exact_counts();
  test_free_while_posting();
  test_remove_and_navigate_while_posting();
  test_last_error_is_per_thread();
  test_depth_per_thread();
  test_post_while_thread_exits();
  TEST_EXIT("test_threads");
}
