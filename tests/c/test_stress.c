/* Multi-threaded randomized stress test, the C twin of tests/stress.rs.
 *
 * Four threads run random operations on a shared pool of windows, ports and broadcast channels
 * for a bounded time (PM_STRESS_SECS, default 2 s; 1.5 s under valgrind, which runs one thread
 * at a time, so it does far fewer operations): create, create child, free, navigate, add and
 * remove listeners (most with a destroy function), post (listeners
 * reply, post elsewhere, free or navigate their own window, remove themselves, add listeners,
 * transfer ports), switch delivery modes, run queues, open, use and close ports and channels.
 *
 * Invariants:
 *  - every listener added with a destroy function is destroyed exactly once by the end, never
 *    one whose add failed, and no listener runs after its destroy;
 *  - each thread's posts to its private windows (touched by no other thread) arrive exactly
 *    once and in order, in SYNC and in QUEUED mode, while the others churn;
 *  - no deadlock: a watchdog aborts with a message if the run does not finish in time.
 * The seed is printed; PM_STRESS_SEED replays it (per-thread operation sequences only). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define PM_UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef PM_UNDER_VALGRIND
#define PM_UNDER_VALGRIND() 0
#endif

#define THREADS 4
#define POOL 48
#define PORT_POOL 64
#define CHANNEL_POOL 32
#define LISTENER_POOL 256

/* ------------------------------------------------------------------------------ randomness */

static uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *s = x;
  return x;
}

static size_t rng_below(uint64_t *s, size_t n) { return n ? (size_t)(rng_next(s) % n) : 0; }

static uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) | 1;
}

static _Thread_local uint64_t listener_rng = 0x2545f4914f6cdd1dULL;
static _Thread_local int depth;

/* ------------------------------------------------------------------------------ shared pools */

typedef struct {
  pthread_mutex_t lock;
  uintptr_t items[PORT_POOL];
  size_t len, cap;
} pool_t;

static pool_t windows = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, POOL};
static pool_t stale = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, PORT_POOL};
static pool_t ports = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, PORT_POOL};
static pool_t channels = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, CHANNEL_POOL};

static uintptr_t pool_pick(pool_t *p, uint64_t *rng) {
  pthread_mutex_lock(&p->lock);
  uintptr_t v = p->len ? p->items[rng_below(rng, p->len)] : 0;
  pthread_mutex_unlock(&p->lock);
  return v;
}

static uintptr_t pool_take(pool_t *p, uint64_t *rng) {
  pthread_mutex_lock(&p->lock);
  uintptr_t v = 0;
  if (p->len) {
    size_t i = rng_below(rng, p->len);
    v = p->items[i];
    p->items[i] = p->items[--p->len];
  }
  pthread_mutex_unlock(&p->lock);
  return v;
}

/* Adds v; when full, replaces a random entry (returned, or 0) so the caller can dispose of it. */
static uintptr_t pool_put(pool_t *p, uintptr_t v, uint64_t *rng) {
  uintptr_t old = 0;
  pthread_mutex_lock(&p->lock);
  if (p->len < p->cap) {
    p->items[p->len++] = v;
  } else {
    size_t i = rng_below(rng, p->len);
    old = p->items[i];
    p->items[i] = v;
  }
  pthread_mutex_unlock(&p->lock);
  return old;
}

/* Every window ever created, freed at the end. */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t *all_windows;
static size_t all_len, all_cap;

static void remember_window(uintptr_t w) {
  pthread_mutex_lock(&all_lock);
  if (all_len == all_cap) {
    all_cap = all_cap ? all_cap * 2 : 256;
    uintptr_t *grown = realloc(all_windows, all_cap * sizeof *grown);
    if (!grown) abort();
    all_windows = grown;
  }
  all_windows[all_len++] = w;
  pthread_mutex_unlock(&all_lock);
}

/* ------------------------------------------------------------------------------ listeners */

enum { HOME_WINDOW, HOME_PORT, HOME_CHANNEL };

typedef struct lrec {
  int kind;
  int home_kind;
  int has_destroy;
  uintptr_t home;
  _Atomic uint64_t id;
  atomic_int added;
  atomic_int destroyed;
  struct lrec *next;
} lrec;

static pthread_mutex_t records_lock = PTHREAD_MUTEX_INITIALIZER;
static lrec *records;

typedef struct {
  uintptr_t home;
  uint64_t id;
  int home_kind;
} listener_ref;

static pthread_mutex_t refs_lock = PTHREAD_MUTEX_INITIALIZER;
static listener_ref refs[LISTENER_POOL];
static size_t refs_len;

static atomic_long double_destroys, calls_after_destroy, bad_events, unexpected_codes;
static atomic_long listener_calls, shared_delivered;

static const char *const urls[] = {"http://a.example/", "http://a.example/other",
                                   "https://a.example/", "http://b.example:8080/",
                                   "data:text/html,x", "about:blank"};
#define NURLS (sizeof urls / sizeof urls[0])
static const char *const targets[] = {"*", "/", "http://a.example", "https://a.example/x"};
#define NTARGETS (sizeof targets / sizeof targets[0])

static int allowed(pm_result r, const pm_result *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (list[i] == r) return 1;
  return 0;
}

static const pm_result handle_results[] = {PM_OK, PM_ERR_NULL_ARGUMENT, PM_ERR_INVALID_HANDLE};
static const pm_result post_results[] = {PM_OK,          PM_DROPPED,         PM_ERR_NULL_ARGUMENT,
                                         PM_ERR_INVALID_HANDLE, PM_ERR_DEPTH, PM_ERR_DATA_CLONE,
                                         PM_ERR_QUEUE_FULL};
#define EXPECT(call, list, what)                                                             \
  do {                                                                                       \
    pm_result r_ = (call);                                                                   \
    if (!allowed(r_, list, sizeof list / sizeof list[0])) {                                  \
      atomic_fetch_add(&unexpected_codes, 1);                                                \
      fprintf(stderr, "test_stress: %s returned %s\n", what, pm_test_rc_name((int)r_));      \
    }                                                                                        \
  } while (0)

static void destroy_rec(void *user_data) {
  lrec *rec = user_data;
  if (atomic_fetch_add(&rec->destroyed, 1) != 0) {
    atomic_fetch_add(&double_destroys, 1);
    fprintf(stderr, "test_stress: destroy ran twice for listener %llu\n",
            (unsigned long long)atomic_load(&rec->id));
  }
}

static lrec *new_record(int kind, int has_destroy, uintptr_t home, int home_kind) {
  lrec *rec = calloc(1, sizeof *rec);
  if (!rec) abort();
  rec->kind = kind;
  rec->has_destroy = has_destroy;
  rec->home = home;
  rec->home_kind = home_kind;
  pthread_mutex_lock(&records_lock);
  rec->next = records;
  records = rec;
  pthread_mutex_unlock(&records_lock);
  return rec;
}

static void finish_add(lrec *rec, uint64_t id) {
  if (id > 0) {
    atomic_store(&rec->id, id);
    atomic_store(&rec->added, 1);
    pthread_mutex_lock(&refs_lock);
    if (refs_len < LISTENER_POOL) refs[refs_len++] = (listener_ref){rec->home, id, rec->home_kind};
    pthread_mutex_unlock(&refs_lock);
  } else {
    pm_result code = pm_last_error_code();
    if (code != PM_ERR_NULL_ARGUMENT && code != PM_ERR_INVALID_HANDLE) {
      atomic_fetch_add(&unexpected_codes, 1);
      fprintf(stderr, "test_stress: add listener failed with %s\n", pm_test_rc_name((int)code));
    }
  }
}

static void shared_listener(const pm_message_event *e, void *user_data);

static void add_window_listener(uintptr_t w, uint64_t *rng) {
  int has_destroy = rng_below(rng, 5) != 0;
  lrec *rec = new_record((int)rng_below(rng, 256), has_destroy, w, HOME_WINDOW);
  uint64_t id = has_destroy
                    ? pm_add_listener_full((pm_window *)w, shared_listener, rec, destroy_rec)
                    : pm_add_listener((pm_window *)w, shared_listener, rec);
  finish_add(rec, id);
}

static void add_port_listener(uintptr_t p, uint64_t *rng) {
  lrec *rec = new_record((int)rng_below(rng, 256), 1, p, HOME_PORT);
  finish_add(rec, pm_port_add_listener_full((pm_port *)p, shared_listener, rec, destroy_rec));
}

static void add_channel_listener(uintptr_t c, uint64_t *rng) {
  lrec *rec = new_record((int)rng_below(rng, 256), 1, c, HOME_CHANNEL);
  finish_add(rec,
             pm_broadcast_add_listener_full((pm_broadcast *)c, shared_listener, rec, destroy_rec));
}

static pm_result remove_ref(listener_ref ref) {
  switch (ref.home_kind) {
    case HOME_WINDOW: return pm_remove_listener((pm_window *)ref.home, ref.id);
    case HOME_PORT: return pm_port_remove_listener((pm_port *)ref.home, ref.id);
    default: return pm_broadcast_remove_listener((pm_broadcast *)ref.home, ref.id);
  }
}

static int event_ok(const pm_message_event *e) {
  if (!e->data || !e->origin || !e->last_event_id) return 0;
  if (e->last_event_id[0] != '\0') return 0;
  if (e->ports_len > 0 && !e->ports) return 0;
  (void)strlen(e->origin);
  return 1;
}

static void shared_listener(const pm_message_event *e, void *user_data) {
  lrec *rec = user_data;
  atomic_fetch_add(&listener_calls, 1);
  if (atomic_load(&rec->destroyed) != 0) atomic_fetch_add(&calls_after_destroy, 1);
  if (!event_ok(e)) {
    atomic_fetch_add(&bad_events, 1);
    return;
  }
  for (size_t i = 0; i < e->ports_len; i++) {
    uintptr_t old = pool_put(&ports, (uintptr_t)e->ports[i], &listener_rng);
    (void)old; /* a port dropped from the pool stays owned by its window */
  }
  if (depth >= 3) return;
  depth++;
  static const uint8_t data[] = "nested";
  const char *t = targets[rng_below(&listener_rng, NTARGETS)];
  switch (rec->kind % 8) {
    case 0: break;
    case 1:
      if (e->source && e->target)
        EXPECT(pm_post_message(e->target, e->source, data, sizeof data - 1, t), post_results,
               "reply");
      break;
    case 2:
      if (rng_below(&listener_rng, 4) == 0)
        EXPECT(pm_window_free(e->target), handle_results, "free own window");
      break;
    case 3:
      if (e->target && rng_below(&listener_rng, 4) == 0)
        EXPECT(pm_window_navigate(e->target, urls[rng_below(&listener_rng, NURLS)]),
               handle_results, "navigate own window");
      break;
    case 4: {
      listener_ref self = {rec->home, atomic_load(&rec->id), rec->home_kind};
      EXPECT(remove_ref(self), handle_results, "remove self");
      break;
    }
    case 5: {
      uintptr_t from = pool_pick(&windows, &listener_rng), to = pool_pick(&windows, &listener_rng);
      EXPECT(pm_post_message((pm_window *)from, (pm_window *)to, data, sizeof data - 1, t),
             post_results, "post elsewhere");
      break;
    }
    case 6:
      if (e->target) add_window_listener((uintptr_t)e->target, &listener_rng);
      break;
    default:
      if (e->target && e->source) {
        pm_port *p1 = NULL, *p2 = NULL;
        pm_result r = pm_channel_new(e->target, &p1, &p2);
        EXPECT(r, handle_results, "channel in listener");
        if (r == PM_OK) {
          (void)pool_put(&ports, (uintptr_t)p1, &listener_rng);
          pm_port *const transfer[1] = {p2};
          EXPECT(pm_post_message_transfer(e->target, e->source, NULL, 0, "*", transfer, 1),
                 post_results, "transfer in listener");
        }
      }
      break;
  }
  depth--;
}

/* ------------------------------------------------------------------------------ private windows */

typedef struct {
  pm_window *expected_source;
  uint64_t next, delivered, errors; /* touched only on the owning thread */
  int destroys;
} private_state;

static void private_listener(const pm_message_event *e, void *user_data) {
  private_state *p = user_data;
  uint64_t seq = UINT64_MAX;
  if (e->data_len == sizeof seq && e->source == p->expected_source)
    memcpy(&seq, e->data, sizeof seq);
  if (seq != p->next) p->errors++;
  p->next = seq + 1;
  p->delivered++;
}

static void private_destroy(void *user_data) { ((private_state *)user_data)->destroys++; }

/* ------------------------------------------------------------------------------ workers */

typedef struct {
  int index;
  uint64_t seed;
  struct timespec deadline;
  atomic_long ops;
  atomic_int last_op;
  atomic_int finished;
  long sync_posted, queued_posted;
} worker_t;

static int before(const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec < deadline->tv_sec ||
         (now.tv_sec == deadline->tv_sec && now.tv_nsec < deadline->tv_nsec);
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  uint64_t rng = mix(w->seed ^ ((uint64_t)w->index * 0x100000001b3ULL));
  listener_rng = rng_next(&rng) | 1;

  char url[64];
  snprintf(url, sizeof url, "http://private%d.example/", w->index);
  pm_window *src = pm_window_new(url), *dst = pm_window_new(url), *qdst = pm_window_new(url);
  REQUIRE(src && dst && qdst);
  CHECK_RC(pm_window_set_dispatch_mode(qdst, PM_DISPATCH_QUEUED), PM_OK);
  private_state sync_state = {src, 0, 0, 0, 0}, queued_state = {src, 0, 0, 0, 0};
  CHECK(pm_add_listener_full(dst, private_listener, &sync_state, private_destroy) > 0);
  CHECK(pm_add_listener(qdst, private_listener, &queued_state) > 0);

  long ops = 0;
  while (before(&w->deadline)) {
    ops++;
    atomic_store(&w->ops, ops);
    size_t pickop = rng_below(&rng, 30);
    int op = pickop <= 21 ? (int)pickop : pickop <= 24 ? 7 : pickop <= 27 ? 4 : 0;
    atomic_store(&w->last_op, op);
    uintptr_t a = pool_pick(&windows, &rng), b = pool_pick(&windows, &rng);
    switch (op) {
      case 0: {
        uintptr_t nw = (uintptr_t)pm_window_new(urls[rng_below(&rng, NURLS)]);
        REQUIRE(nw != 0);
        remember_window(nw);
        uintptr_t old = pool_put(&windows, nw, &rng);
        if (old) {
          EXPECT(pm_window_free((pm_window *)old), handle_results, "free");
          (void)pool_put(&stale, old, &rng);
        }
        break;
      }
      case 1: {
        uintptr_t c = (uintptr_t)pm_window_new_child((pm_window *)a, urls[rng_below(&rng, NURLS)]);
        if (c) {
          remember_window(c);
          (void)pool_put(&windows, c, &rng);
        }
        break;
      }
      case 2: {
        uintptr_t victim = pool_take(&windows, &rng);
        EXPECT(pm_window_free((pm_window *)victim), handle_results, "free");
        (void)pool_put(&stale, victim, &rng);
        break;
      }
      case 3:
        EXPECT(pm_window_navigate((pm_window *)a, urls[rng_below(&rng, NURLS)]), handle_results,
               "navigate");
        break;
      case 4:
      case 5: add_window_listener(a, &rng); break;
      case 6: {
        listener_ref ref = {0, 0, 0};
        int have = 0;
        pthread_mutex_lock(&refs_lock);
        if (refs_len) {
          size_t i = rng_below(&rng, refs_len);
          ref = refs[i];
          refs[i] = refs[--refs_len];
          have = 1;
        }
        pthread_mutex_unlock(&refs_lock);
        if (have) EXPECT(remove_ref(ref), handle_results, "remove listener");
        break;
      }
      case 7:
      case 8:
      case 9: {
        uint64_t payload = rng_next(&rng);
        pm_result r = pm_post_message((pm_window *)a, (pm_window *)b, (const uint8_t *)&payload,
                                      sizeof payload, targets[rng_below(&rng, NTARGETS)]);
        EXPECT(r, post_results, "post");
        if (r == PM_OK) atomic_fetch_add(&shared_delivered, 1);
        break;
      }
      case 10: {
        uintptr_t forged[] = {pool_pick(&stale, &rng), 0x1234, UINTPTR_MAX,
                              pool_pick(&ports, &rng)};
        uintptr_t f = forged[rng_below(&rng, 4)];
        pm_result r = pm_post_message((pm_window *)f, (pm_window *)b, NULL, 0, "*");
        if (f != 0 && r != PM_ERR_INVALID_HANDLE) {
          atomic_fetch_add(&unexpected_codes, 1);
          fprintf(stderr, "test_stress: post from a dead or forged window returned %s\n",
                  pm_test_rc_name((int)r));
        }
        break;
      }
      case 11: {
        pm_port *p1 = NULL, *p2 = NULL;
        pm_result r = pm_channel_new((pm_window *)a, &p1, &p2);
        EXPECT(r, handle_results, "channel_new");
        if (r == PM_OK) {
          (void)pool_put(&ports, (uintptr_t)p1, &rng);
          (void)pool_put(&ports, (uintptr_t)p2, &rng);
        }
        break;
      }
      case 12: add_port_listener(pool_pick(&ports, &rng), &rng); break;
      case 13: {
        uintptr_t p = pool_pick(&ports, &rng);
        pm_port *const transfer[1] = {(pm_port *)pool_pick(&ports, &rng)};
        size_t n = (rng_below(&rng, 4) == 0 && transfer[0]) ? 1 : 0;
        uint64_t payload = rng_next(&rng);
        EXPECT(pm_port_post_message((pm_port *)p, (const uint8_t *)&payload, sizeof payload,
                                    transfer, n),
               post_results, "port post");
        break;
      }
      case 14: EXPECT(pm_port_close((pm_port *)pool_take(&ports, &rng)), handle_results, "port close"); break;
      case 15: {
        pm_port *const transfer[1] = {(pm_port *)pool_pick(&ports, &rng)};
        if (transfer[0])
          EXPECT(pm_post_message_transfer((pm_window *)a, (pm_window *)b, NULL, 0, "*", transfer,
                                          1),
                 post_results, "transfer");
        break;
      }
      case 16: {
        static const char *const names[] = {"alpha", "beta"};
        pm_broadcast *c = pm_broadcast_new((pm_window *)a, names[rng_below(&rng, 2)]);
        if (c) (void)pool_put(&channels, (uintptr_t)c, &rng);
        break;
      }
      case 17: add_channel_listener(pool_pick(&channels, &rng), &rng); break;
      case 18: {
        uint64_t payload = rng_next(&rng);
        static const pm_result ok[] = {PM_OK, PM_ERR_NULL_ARGUMENT, PM_ERR_INVALID_HANDLE,
                                       PM_ERR_QUEUE_FULL, PM_ERR_DEPTH};
        EXPECT(pm_broadcast_post_message((pm_broadcast *)pool_pick(&channels, &rng),
                                         (const uint8_t *)&payload, sizeof payload),
               ok, "broadcast post");
        break;
      }
      case 19:
        EXPECT(pm_broadcast_close((pm_broadcast *)pool_take(&channels, &rng)), handle_results,
               "broadcast close");
        break;
      case 20:
        EXPECT(pm_window_set_dispatch_mode((pm_window *)a, rng_below(&rng, 2) ? PM_DISPATCH_QUEUED
                                                                              : PM_DISPATCH_SYNC),
               handle_results, "set mode");
        break;
      default: (void)pm_window_run_pending((pm_window *)a, 1 + rng_below(&rng, 8)); break;
    }

    /* The private invariant. */
    if (ops % 3 == 0) {
      uint64_t seq = (uint64_t)w->sync_posted;
      CHECK_RC(pm_post_message(src, dst, (const uint8_t *)&seq, sizeof seq, "/"), PM_OK);
      w->sync_posted++;
      seq = (uint64_t)w->queued_posted;
      CHECK_RC(pm_post_message(src, qdst, (const uint8_t *)&seq, sizeof seq, "/"), PM_OK);
      w->queued_posted++;
      if (rng_below(&rng, 2) == 0) (void)pm_window_run_pending(qdst, 1 + rng_below(&rng, 6));
    }
  }
  while (pm_window_pending(qdst) > 0) REQUIRE(pm_window_run_pending(qdst, SIZE_MAX) > 0);
  CHECK(sync_state.errors == 0);
  CHECK(sync_state.delivered == (uint64_t)w->sync_posted);
  CHECK(queued_state.errors == 0);
  CHECK(queued_state.delivered == (uint64_t)w->queued_posted);
  CHECK_RC(pm_window_free(src), PM_OK);
  CHECK_RC(pm_window_free(dst), PM_OK);
  CHECK_RC(pm_window_free(qdst), PM_OK);
  CHECK(sync_state.destroys == 1); /* on this thread, inside pm_window_free */
  atomic_store(&w->finished, 1);
  return NULL;
}

/* ------------------------------------------------------------------------------ watchdog */

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done;
static long watchdog_secs;
static worker_t workers[THREADS];
static uint64_t run_seed;

static void *watchdog_main(void *arg) {
  (void)arg;
  struct timespec limit;
  clock_gettime(CLOCK_REALTIME, &limit);
  limit.tv_sec += watchdog_secs;
  pthread_mutex_lock(&done_lock);
  int rc = 0;
  while (!done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&done_cond, &done_lock, &limit);
  int finished = done;
  pthread_mutex_unlock(&done_lock);
  if (!finished) {
    fprintf(stderr,
            "test_stress: DEADLOCK? the workers and teardown did not finish within %ld s "
            "(seed %llu)\n",
            watchdog_secs, (unsigned long long)run_seed);
    for (int i = 0; i < THREADS; i++)
      fprintf(stderr, "test_stress:   worker %d: %ld ops, last op %d, finished %d\n", i,
              atomic_load(&workers[i].ops), atomic_load(&workers[i].last_op),
              atomic_load(&workers[i].finished));
    abort();
  }
  return NULL;
}

int main(void) {
  int valgrind = PM_UNDER_VALGRIND();
  double secs = valgrind ? 1.5 : 2.0;
  const char *env = getenv("PM_STRESS_SECS");
  if (env && *env) secs = strtod(env, NULL);
  if (secs < 0) secs = 0;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  run_seed = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
  env = getenv("PM_STRESS_SEED");
  if (env && *env) run_seed = strtoull(env, NULL, 10);
  printf("test_stress: seed %llu (set PM_STRESS_SEED to replay), %.2f s, %d threads%s\n",
         (unsigned long long)run_seed, secs, THREADS, valgrind ? ", under valgrind" : "");
  fflush(stdout);

  for (int i = 0; i < 4; i++) {
    uintptr_t w = (uintptr_t)pm_window_new(urls[i]);
    REQUIRE(w != 0);
    remember_window(w);
    windows.items[windows.len++] = w;
  }

  watchdog_secs = (long)(secs * 4) + (valgrind ? 300 : 60);
  pthread_t watchdog;
  REQUIRE(pthread_create(&watchdog, NULL, watchdog_main, NULL) == 0);

  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += (time_t)secs;
  deadline.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    workers[i].index = i;
    workers[i].seed = run_seed;
    workers[i].deadline = deadline;
    REQUIRE(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) REQUIRE(pthread_join(threads[i], NULL) == 0);

  /* Teardown: freeing every window closes every port and channel and removes every listener. */
  for (size_t i = 0; i < all_len; i++) {
    pm_result r = pm_window_free((pm_window *)all_windows[i]);
    CHECK(r == PM_OK || r == PM_ERR_INVALID_HANDLE);
  }
  free(all_windows);

  pthread_mutex_lock(&done_lock);
  done = 1;
  pthread_cond_signal(&done_cond);
  pthread_mutex_unlock(&done_lock);
  REQUIRE(pthread_join(watchdog, NULL) == 0);

  long adds = 0, destroys = 0, not_once = 0, destroyed_unadded = 0;
  for (lrec *rec = records; rec;) {
    lrec *next = rec->next;
    int d = atomic_load(&rec->destroyed);
    if (atomic_load(&rec->added) && rec->has_destroy) {
      adds++;
      destroys += d;
      if (d != 1) not_once++;
    } else if (d != 0) {
      destroyed_unadded++;
    }
    free(rec);
    rec = next;
  }
  long total_ops = 0, private_posts = 0;
  for (int i = 0; i < THREADS; i++) {
    total_ops += atomic_load(&workers[i].ops);
    private_posts += workers[i].sync_posted + workers[i].queued_posted;
  }
  printf("test_stress: %ld operations, %ld shared posts delivered, %ld listener calls, %ld private "
         "posts, %ld listeners with destroy (%ld destroys)\n",
         total_ops, atomic_load(&shared_delivered), atomic_load(&listener_calls), private_posts,
         adds, destroys);
  CHECK(atomic_load(&double_destroys) == 0);
  CHECK(not_once == 0);
  CHECK(destroyed_unadded == 0);
  CHECK(atomic_load(&calls_after_destroy) == 0);
  CHECK(atomic_load(&bad_events) == 0);
  CHECK(atomic_load(&unexpected_codes) == 0);

  /* The library still works. */
  pm_window *x = pm_window_new("http://after.example/");
  REQUIRE(x != NULL);
  CHECK_RC(pm_test_post(x, x, "after", "/"), PM_OK);
  CHECK_RC(pm_window_free(x), PM_OK);
  TEST_EXIT("test_stress");
}
