/* Stress: ports, broadcast channels and queued windows used from several threads at once, with
 * exact counts where the contract gives them, and closing / navigating / freeing racing with
 * posts where it does not (then: no crash, no lost or duplicated delivery, valgrind-clean).
 * Written against /work/shared/API.md. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define THREADS 4
#define MESSAGES 500

/* ---------------------------------------------------------------- ports across threads */

typedef struct {
  atomic_long received;
  atomic_long bad;
  int next_seq; /* only touched on the one posting thread of this direction */
} port_counter;

static void port_count(const pm_message_event *event, void *user_data) {
  port_counter *c = user_data;
  int seq = -1;
  if (event->data_len == sizeof seq) memcpy(&seq, event->data, sizeof seq);
  if (seq != c->next_seq || event->source != NULL || event->target != NULL ||
      strcmp(event->origin, "") != 0)
    atomic_fetch_add(&c->bad, 1);
  c->next_seq = seq + 1;
  atomic_fetch_add(&c->received, 1);
}

typedef struct {
  pm_port *port;
  long failures;
} port_poster;

static void *post_on_port(void *arg) {
  port_poster *p = arg;
  for (int i = 0; i < MESSAGES; i++)
    if (pm_port_post_message(p->port, (const uint8_t *)&i, sizeof i, NULL, 0) != PM_OK)
      p->failures++;
  return NULL;
}

static void test_ports_across_threads(void) {
  pm_window *w = pm_window_new("https://ports.example/");
  REQUIRE(w);
  pm_port *a[THREADS], *b[THREADS];
  port_counter at_a[THREADS], at_b[THREADS];
  port_poster posters[2 * THREADS];
  pthread_t threads[2 * THREADS];
  for (int i = 0; i < THREADS; i++) {
    REQUIRE(pm_channel_new(w, &a[i], &b[i]) == PM_OK);
    memset(&at_a[i], 0, sizeof at_a[i]);
    memset(&at_b[i], 0, sizeof at_b[i]);
    CHECK(pm_port_add_listener(a[i], port_count, &at_a[i]) > 0);
    CHECK(pm_port_add_listener(b[i], port_count, &at_b[i]) > 0);
    posters[2 * i] = (port_poster){a[i], 0};     /* a -> b */
    posters[2 * i + 1] = (port_poster){b[i], 0}; /* b -> a */
  }
  for (int i = 0; i < 2 * THREADS; i++)
    REQUIRE(pthread_create(&threads[i], NULL, post_on_port, &posters[i]) == 0);
  for (int i = 0; i < 2 * THREADS; i++) REQUIRE(pthread_join(threads[i], NULL) == 0);
  for (int i = 0; i < 2 * THREADS; i++) CHECK(posters[i].failures == 0);
  for (int i = 0; i < THREADS; i++) {
    CHECK(atomic_load(&at_a[i].received) == MESSAGES);
    CHECK(atomic_load(&at_b[i].received) == MESSAGES);
    CHECK(atomic_load(&at_a[i].bad) == 0);
    CHECK(atomic_load(&at_b[i].bad) == 0);
  }
  CHECK_RC(pm_window_free(w), PM_OK);
}

/* ---------------------------------------------------------------- closing while posting */

#define RACE_POSTS 400

typedef struct {
  pm_port *port;
  atomic_long progress; /* posts made so far */
  long ok, dropped, invalid, other;
} racing_poster;

static void *post_racing(void *arg) {
  racing_poster *p = arg;
  for (int i = 0; i < RACE_POSTS; i++) {
    pm_result rc = pm_port_post_message(p->port, (const uint8_t *)&i, sizeof i, NULL, 0);
    if (rc == PM_OK) p->ok++;
    else if (rc == PM_DROPPED) p->dropped++;
    else if (rc == PM_ERR_INVALID_HANDLE) p->invalid++;
    else p->other++;
    atomic_fetch_add(&p->progress, 1);
    if (i % 16 == 0) sched_yield();
  }
  return NULL;
}

static atomic_long close_race_received;
static void count_only(const pm_message_event *event, void *user_data) {
  (void)event;
  (void)user_data;
  atomic_fetch_add(&close_race_received, 1);
}

static void test_close_while_posting(void) {
  pm_window *w = pm_window_new("https://close.example/");
  REQUIRE(w);
  atomic_init(&close_race_received, 0);
  for (int round = 0; round < 20; round++) {
    pm_port *a, *b;
    REQUIRE(pm_channel_new(w, &a, &b) == PM_OK);
    CHECK(pm_port_add_listener(b, count_only, NULL) > 0);
    racing_poster p, q;
    memset(&p, 0, sizeof p);
    memset(&q, 0, sizeof q);
    p.port = a; /* a -> b (started) */
    q.port = b; /* b -> a: a is never started; messages wait in it */
    atomic_init(&p.progress, 0);
    atomic_init(&q.progress, 0);
    pthread_t t1, t2;
    REQUIRE(pthread_create(&t1, NULL, post_racing, &p) == 0);
    REQUIRE(pthread_create(&t2, NULL, post_racing, &q) == 0);
    while (atomic_load(&p.progress) < RACE_POSTS / 4 && atomic_load(&q.progress) < RACE_POSTS / 4)
      sched_yield();
    /* close one side while both post */
    CHECK_RC(pm_port_close(round % 2 ? a : b), PM_OK);
    REQUIRE(pthread_join(t1, NULL) == 0);
    REQUIRE(pthread_join(t2, NULL) == 0);
    CHECK(p.other == 0 && q.other == 0);
    racing_poster *closed = round % 2 ? &p : &q;
    racing_poster *open = round % 2 ? &q : &p;
    /* the closed side's own posts: OK before, INVALID_HANDLE after (a post overlapping the close
     * may see the channel already disentangled: PM_DROPPED) */
    CHECK(closed->ok + closed->dropped + closed->invalid == RACE_POSTS);
    /* the partner's handle stays valid: OK before, PM_DROPPED after, never INVALID_HANDLE */
    CHECK(open->invalid == 0);
    CHECK(open->ok + open->dropped == RACE_POSTS);
    CHECK_RC(pm_port_close(round % 2 ? b : a), PM_OK);
  }
  CHECK(atomic_load(&close_race_received) >= 1);
  CHECK_RC(pm_window_free(w), PM_OK);
}

/* ---------------------------------------------------------------- broadcast across threads */

#define RECEIVERS 3

typedef struct {
  atomic_long received;
  atomic_long bad;
} bcast_counter;

static void bcast_count(const pm_message_event *event, void *user_data) {
  bcast_counter *c = user_data;
  atomic_fetch_add(&c->received, 1);
  if (strcmp(event->origin, "https://bc.example") != 0 || event->source || event->target)
    atomic_fetch_add(&c->bad, 1);
}

typedef struct {
  pm_broadcast *channel;
  long failures;
} bcast_poster;

static void *broadcast_many(void *arg) {
  bcast_poster *p = arg;
  for (int i = 0; i < MESSAGES; i++)
    if (pm_broadcast_post_message(p->channel, (const uint8_t *)&i, sizeof i) != PM_OK)
      p->failures++;
  return NULL;
}

static void test_broadcast_across_threads(void) {
  pm_window *w[THREADS + RECEIVERS];
  pm_broadcast *c[THREADS + RECEIVERS];
  bcast_counter counters[THREADS + RECEIVERS];
  for (int i = 0; i < THREADS + RECEIVERS; i++) {
    w[i] = pm_window_new("https://bc.example/");
    REQUIRE(w[i]);
    c[i] = pm_broadcast_new(w[i], "stress");
    REQUIRE(c[i]);
    atomic_init(&counters[i].received, 0);
    atomic_init(&counters[i].bad, 0);
    CHECK(pm_broadcast_add_listener(c[i], bcast_count, &counters[i]) > 0);
  }
  bcast_poster posters[THREADS];
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    posters[i] = (bcast_poster){c[i], 0};
    REQUIRE(pthread_create(&threads[i], NULL, broadcast_many, &posters[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) REQUIRE(pthread_join(threads[i], NULL) == 0);
  for (int i = 0; i < THREADS; i++) CHECK(posters[i].failures == 0);
  for (int i = 0; i < THREADS + RECEIVERS; i++) {
    long expected = (long)MESSAGES * (i < THREADS ? THREADS - 1 : THREADS);
    CHECK(atomic_load(&counters[i].received) == expected);
    CHECK(atomic_load(&counters[i].bad) == 0);
  }
  for (int i = 0; i < THREADS + RECEIVERS; i++) CHECK_RC(pm_window_free(w[i]), PM_OK);
}

/* ---------------------------------------------------------------- queued window under churn */

typedef struct {
  pm_window *src;
  pm_window *dst;
  int index;
  atomic_int *stop;
  long posted;
  long other;
} churn_poster;

static void *churn_post(void *arg) {
  churn_poster *p = arg;
  int seq = 0;
  for (int tries = 0; tries < 1000 && !atomic_load(p->stop); tries++) {
    int msg[2] = {p->index, seq};
    pm_result rc = pm_post_message(p->src, p->dst, (const uint8_t *)msg, sizeof msg, "*");
    if (rc == PM_OK) {
      p->posted++;
      seq++;
    } else if (rc != PM_ERR_QUEUE_FULL) {
      p->other++;
    }
    if (tries % 8 == 0) sched_yield();
  }
  return NULL;
}

typedef struct {
  long received;
  int last_seq[THREADS];
  long out_of_order;
} churn_state;

static void churn_listener(const pm_message_event *event, void *user_data) {
  churn_state *s = user_data;
  int msg[2];
  if (event->data_len != sizeof msg) return;
  memcpy(msg, event->data, sizeof msg);
  if (msg[0] < 0 || msg[0] >= THREADS) return;
  s->received++;
  if (msg[1] <= s->last_seq[msg[0]]) s->out_of_order++; /* gaps allowed (navigation), no repeats */
  s->last_seq[msg[0]] = msg[1];
}

static void test_queued_window_under_churn(void) {
  pm_window *dst = pm_window_new("https://churn.example/0");
  REQUIRE(dst);
  CHECK_RC(pm_window_set_dispatch_mode(dst, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_queue_limit(dst, 256, 0), PM_OK);
  churn_state state;
  memset(&state, 0, sizeof state);
  for (int i = 0; i < THREADS; i++) state.last_seq[i] = -1;
  CHECK(pm_add_listener(dst, churn_listener, &state) > 0);

  atomic_int stop;
  atomic_init(&stop, 0);
  churn_poster posters[THREADS];
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    posters[i] = (churn_poster){pm_window_new("https://poster.example/"), dst, i, &stop, 0, 0};
    REQUIRE(posters[i].src);
    REQUIRE(pthread_create(&threads[i], NULL, churn_post, &posters[i]) == 0);
  }
  long taken = 0;
  for (int round = 0; round < 100; round++) {
    taken += (long)pm_window_run_pending(dst, 50);
    if (round % 10 == 9) {
      char url[64];
      snprintf(url, sizeof url, "https://churn.example/%d", round);
      CHECK_RC(pm_window_navigate(dst, url), PM_OK); /* discards the queue and the listener */
      CHECK(pm_add_listener(dst, churn_listener, &state) > 0);
      CHECK(pm_window_pending(dst) <= 256);
    }
    sched_yield();
  }
  atomic_store(&stop, 1);
  long posted = 0;
  for (int i = 0; i < THREADS; i++) {
    REQUIRE(pthread_join(threads[i], NULL) == 0);
    CHECK(posters[i].other == 0);
    posted += posters[i].posted;
  }
  taken += (long)pm_window_run_pending(dst, SIZE_MAX);
  CHECK(pm_window_pending(dst) == 0);
  CHECK(state.out_of_order == 0);
  CHECK(state.received <= posted);
  CHECK(state.received <= taken);
  for (int i = 0; i < THREADS; i++) CHECK_RC(pm_window_free(posters[i].src), PM_OK);
  CHECK_RC(pm_window_free(dst), PM_OK);
}

/* ---------------------------------------------------------------- free a queued window while posting */

#define FREE_RACE_POSTS 300

typedef struct {
  pm_window *src;
  pm_window *dst;
  atomic_long progress;
  long ok, full, invalid, other;
} freeing_poster;

static void *post_while_freed(void *arg) {
  freeing_poster *p = arg;
  for (int i = 0; i < FREE_RACE_POSTS; i++) {
    pm_result rc = pm_post_message(p->src, p->dst, (const uint8_t *)"x", 1, "*");
    if (rc == PM_OK) p->ok++;
    else if (rc == PM_ERR_QUEUE_FULL) p->full++;
    else if (rc == PM_ERR_INVALID_HANDLE) p->invalid++;
    else p->other++;
    atomic_fetch_add(&p->progress, 1);
    if (i % 16 == 0) sched_yield();
  }
  return NULL;
}

static atomic_long freed_window_received;
static void count_freed(const pm_message_event *event, void *user_data) {
  (void)event;
  (void)user_data;
  atomic_fetch_add(&freed_window_received, 1);
}

static void test_free_queued_window_while_posting(void) {
  pm_window *src = pm_window_new("https://src.example/");
  REQUIRE(src);
  for (int round = 0; round < 10; round++) {
    pm_window *dst = pm_window_new("https://dst.example/");
    REQUIRE(dst);
    CHECK_RC(pm_window_set_dispatch_mode(dst, PM_DISPATCH_QUEUED), PM_OK);
    CHECK(pm_add_listener(dst, count_freed, NULL) > 0);
    freeing_poster posters[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
      memset(&posters[i], 0, sizeof posters[i]);
      posters[i].src = src;
      posters[i].dst = dst;
      atomic_init(&posters[i].progress, 0);
      REQUIRE(pthread_create(&threads[i], NULL, post_while_freed, &posters[i]) == 0);
    }
    atomic_init(&freed_window_received, 0);
    long taken = 0;
    while (atomic_load(&posters[0].progress) < FREE_RACE_POSTS / 3) {
      taken += (long)pm_window_run_pending(dst, 10);
      sched_yield();
    }
    CHECK_RC(pm_window_free(dst), PM_OK); /* frees the queue; posters then see INVALID_HANDLE */
    long ok = 0;
    for (int i = 0; i < THREADS; i++) {
      REQUIRE(pthread_join(threads[i], NULL) == 0);
      CHECK(posters[i].other == 0);
      CHECK(posters[i].full == 0);
      CHECK(posters[i].ok + posters[i].invalid == FREE_RACE_POSTS);
      ok += posters[i].ok;
    }
    CHECK(atomic_load(&freed_window_received) == taken);
    CHECK(taken <= ok);
  }
  CHECK_RC(pm_window_free(src), PM_OK);
}

/* ---------------------------------------------------------------- drop handler across threads */

static atomic_long drops_seen;
static atomic_long drops_wrong;
static void count_drop(const pm_drop_event *event, void *user_data) {
  (void)user_data;
  atomic_fetch_add(&drops_seen, 1);
  if (event->reason != PM_DROP_ORIGIN_MISMATCH) atomic_fetch_add(&drops_wrong, 1);
}

typedef struct {
  pm_window *src;
  pm_window *dst;
  long not_dropped;
} mismatch_poster;

static void *post_mismatches(void *arg) {
  mismatch_poster *p = arg;
  for (int i = 0; i < MESSAGES; i++)
    if (pm_post_message(p->src, p->dst, (const uint8_t *)"m", 1, "https://nope.example") !=
        PM_DROPPED)
      p->not_dropped++;
  return NULL;
}

static void test_drop_handler_across_threads(void) {
  atomic_init(&drops_seen, 0);
  atomic_init(&drops_wrong, 0);
  pm_window *src = pm_window_new("https://src.example/");
  pm_window *dst = pm_window_new("https://dst.example/");
  REQUIRE(src && dst);
  CHECK_RC(pm_set_drop_handler(count_drop, NULL), PM_OK);
  mismatch_poster posters[THREADS];
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    posters[i] = (mismatch_poster){src, dst, 0};
    REQUIRE(pthread_create(&threads[i], NULL, post_mismatches, &posters[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    REQUIRE(pthread_join(threads[i], NULL) == 0);
    CHECK(posters[i].not_dropped == 0);
  }
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  CHECK(atomic_load(&drops_seen) == (long)THREADS * MESSAGES);
  CHECK(atomic_load(&drops_wrong) == 0);
  CHECK_RC(pm_window_free(src), PM_OK);
  CHECK_RC(pm_window_free(dst), PM_OK);
}

int main(void) {
  test_ports_across_threads();
  test_close_while_posting();
  test_broadcast_across_threads();
  test_queued_window_under_churn();
  test_free_queued_window_while_posting();
  test_drop_handler_across_threads();
  TEST_EXIT("test_stress_messaging");
}
