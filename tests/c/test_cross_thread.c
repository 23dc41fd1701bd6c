/* Cross-thread queued delivery: a thread posting into a QUEUED window (window, port and
 * broadcast posts) never waits for the window's owner thread, even while that thread is inside
 * one of the window's listeners, and the waker fires on the posting thread. If posting took a
 * lock that the draining thread holds while listeners run, the producer below would block, the
 * blocked listener would time out after 10 s, and the checks would fail. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

#define K 200 /* posts of each kind while the owner's listener runs */

static pm_window *owner_window, *other_window;
static pm_port *sender_port;
static pm_broadcast *sender_channel;
static atomic_int in_listener, producer_done, timed_out;
static atomic_long wakes_on_producer, window_msgs, port_msgs, bcast_msgs;
static pthread_t producer_thread;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_a_little(void) {
  struct timespec ts = {0, 100000};
  nanosleep(&ts, NULL);
}

/* The first window message blocks its listener until the producer has finished posting. */
static void on_window(const pm_message_event *event, void *user_data) {
  (void)user_data;
  if (event->data_len == 5 && memcmp(event->data, "block", 5) == 0) {
    atomic_store(&in_listener, 1);
    double deadline = now_s() + 10.0;
    while (!atomic_load(&producer_done)) {
      if (now_s() > deadline) {
        atomic_store(&timed_out, 1);
        return;
      }
      sleep_a_little();
    }
    return;
  }
  atomic_fetch_add(&window_msgs, 1);
}

static void on_port(const pm_message_event *event, void *user_data) {
  (void)event;
  (void)user_data;
  atomic_fetch_add(&port_msgs, 1);
}

static void on_bcast(const pm_message_event *event, void *user_data) {
  (void)event;
  (void)user_data;
  atomic_fetch_add(&bcast_msgs, 1);
}

static void waker(pm_window *window, void *user_data) {
  (void)window;
  (void)user_data;
  if (pthread_equal(pthread_self(), producer_thread)) atomic_fetch_add(&wakes_on_producer, 1);
}

static void *producer(void *arg) {
  (void)arg;
  while (!atomic_load(&in_listener)) sleep_a_little();
  int bad = 0;
  for (int i = 0; i < K; i++) {
    bad += pm_post_message(other_window, owner_window, (const uint8_t *)"w", 1, "*") != PM_OK;
    bad += pm_port_post_message(sender_port, (const uint8_t *)"p", 1, NULL, 0) != PM_OK;
    bad += pm_broadcast_post_message(sender_channel, (const uint8_t *)"b", 1) != PM_OK;
  }
  CHECK(bad == 0);
  atomic_store(&producer_done, 1);
  return NULL;
}

static void test_posting_does_not_wait_for_running_listeners(void) {
  owner_window = pm_window_new("https://owner.example/");
  other_window = pm_window_new("https://owner.example/other");
  REQUIRE(owner_window && other_window);
  CHECK_RC(pm_window_set_dispatch_mode(owner_window, PM_DISPATCH_QUEUED), PM_OK);
  CHECK_RC(pm_window_set_waker(owner_window, waker, NULL), PM_OK);
  REQUIRE(pm_add_listener(owner_window, on_window, NULL) != 0);
  pm_port *receiving;
  REQUIRE(pm_channel_new(owner_window, &sender_port, &receiving) == PM_OK);
  REQUIRE(pm_port_add_listener(receiving, on_port, NULL) != 0);
  sender_channel = pm_broadcast_new(other_window, "xthread");
  pm_broadcast *receiving_channel = pm_broadcast_new(owner_window, "xthread");
  REQUIRE(sender_channel && receiving_channel);
  REQUIRE(pm_broadcast_add_listener(receiving_channel, on_bcast, NULL) != 0);

  REQUIRE(pthread_create(&producer_thread, NULL, producer, NULL) == 0);
  CHECK_RC(pm_post_message(other_window, owner_window, (const uint8_t *)"block", 5, "*"), PM_OK);
  /* The owner thread enters the blocking listener; the producer posts meanwhile. */
  CHECK(pm_window_run_pending(owner_window, 1) == 1);
  CHECK(atomic_load(&timed_out) == 0);
  CHECK(atomic_load(&producer_done) == 1);
  pthread_join(producer_thread, NULL);
  /* The queue went from empty to non-empty on the producer: its waker ran there. */
  CHECK(atomic_load(&wakes_on_producer) >= 1);
  CHECK(pm_window_run_pending(owner_window, SIZE_MAX) == 3 * K);
  CHECK(atomic_load(&window_msgs) == K);
  CHECK(atomic_load(&port_msgs) == K);
  CHECK(atomic_load(&bcast_msgs) == K);
  CHECK_RC(pm_window_free(owner_window), PM_OK);
  CHECK_RC(pm_window_free(other_window), PM_OK);
}

int main(void) {
  test_posting_does_not_wait_for_running_listeners();
  TEST_EXIT("test_cross_thread");
}
