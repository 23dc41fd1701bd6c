/* What one pm_window_run_pending sees change between the queued messages it runs.
 *
 * The drain remembers a port's or broadcast channel's listeners between consecutive messages
 * to it (no lock per message while its version stays) and holds the origins of queued window
 * messages in the queue's rows. These checks fail if a change made by a listener during the
 * drain (a listener added or removed, the port or channel closed) were not seen by the next
 * message, or if messages from many sources (more than the queue's rows) lost their origins. */
#include <stdint.h>

#include "check.h"

struct log {
  int calls[4];
  char origins[64][48];
  int n_origins;
};

static struct log LOG;

static void on_first(const pm_message_event *e, void *ud);
static void on_second(const pm_message_event *e, void *ud) {
  (void)e;
  (void)ud;
  LOG.calls[1]++;
}

/* The port (or channel) whose first listener changes things, and what it does. */
static struct pm_port *PORT;
static struct pm_broadcast *CHANNEL;
static uint64_t FIRST_ID;
static int ACTION;

enum { ADD_SECOND, REMOVE_SELF, CLOSE };

static void on_first(const pm_message_event *e, void *ud) {
  (void)e;
  (void)ud;
  LOG.calls[0]++;
  if (LOG.calls[0] != 1) return;
  switch (ACTION) {
    case ADD_SECOND:
      if (PORT) CHECK(pm_port_add_listener(PORT, on_second, NULL) != 0);
      if (CHANNEL) CHECK(pm_broadcast_add_listener(CHANNEL, on_second, NULL) != 0);
      break;
    case REMOVE_SELF:
      if (PORT) CHECK_RC(pm_port_remove_listener(PORT, FIRST_ID), PM_OK);
      if (CHANNEL) CHECK_RC(pm_broadcast_remove_listener(CHANNEL, FIRST_ID), PM_OK);
      break;
    case CLOSE:
      if (PORT) CHECK_RC(pm_port_close(PORT), PM_OK);
      if (CHANNEL) CHECK_RC(pm_broadcast_close(CHANNEL), PM_OK);
      PORT = NULL;
      CHANNEL = NULL;
      break;
  }
}

static int DROPS;
static void on_drop(const pm_drop_event *e, void *ud) {
  (void)ud;
  if (e->reason == PM_DROP_TARGET_GONE) DROPS++;
}

static void port_case(int action, int expect_first, int expect_second, int expect_drops) {
  memset(&LOG, 0, sizeof LOG);
  DROPS = 0;
  struct pm_window *w = pm_window_new("https://a.example/");
  REQUIRE(w);
  CHECK_RC(pm_window_set_dispatch_mode(w, PM_DISPATCH_QUEUED), PM_OK);
  struct pm_port *p1 = NULL, *p2 = NULL;
  REQUIRE(pm_channel_new(w, &p1, &p2) == PM_OK);
  PORT = p2;
  CHANNEL = NULL;
  ACTION = action;
  FIRST_ID = pm_port_add_listener(p2, on_first, NULL);
  CHECK(FIRST_ID != 0);
  for (int i = 0; i < 3; i++) CHECK_RC(pm_port_post_message(p1, (const uint8_t *)"x", 1, NULL, 0), PM_OK);
  CHECK(pm_window_pending(w) == 3);
  CHECK(pm_window_run_pending(w, SIZE_MAX) == 3);
  CHECK(LOG.calls[0] == expect_first);
  CHECK(LOG.calls[1] == expect_second);
  CHECK(DROPS == expect_drops);
  if (PORT) pm_port_close(PORT);
  pm_port_close(p1);
  pm_window_free(w);
}

static void broadcast_case(int action, int expect_first, int expect_second, int expect_drops) {
  memset(&LOG, 0, sizeof LOG);
  DROPS = 0;
  struct pm_window *a = pm_window_new("https://b.example/");
  struct pm_window *b = pm_window_new("https://b.example/");
  REQUIRE(a && b);
  CHECK_RC(pm_window_set_dispatch_mode(b, PM_DISPATCH_QUEUED), PM_OK);
  struct pm_broadcast *tx = pm_broadcast_new(a, "drain");
  struct pm_broadcast *rx = pm_broadcast_new(b, "drain");
  REQUIRE(tx && rx);
  PORT = NULL;
  CHANNEL = rx;
  ACTION = action;
  FIRST_ID = pm_broadcast_add_listener(rx, on_first, NULL);
  CHECK(FIRST_ID != 0);
  for (int i = 0; i < 3; i++) CHECK_RC(pm_broadcast_post_message(tx, (const uint8_t *)"y", 1), PM_OK);
  CHECK(pm_window_pending(b) == 3);
  CHECK(pm_window_run_pending(b, SIZE_MAX) == 3);
  CHECK(LOG.calls[0] == expect_first);
  CHECK(LOG.calls[1] == expect_second);
  CHECK(DROPS == expect_drops);
  if (CHANNEL) pm_broadcast_close(CHANNEL);
  pm_broadcast_close(tx);
  pm_window_free(a);
  pm_window_free(b);
}

static void on_origin(const pm_message_event *e, void *ud) {
  (void)ud;
  if (LOG.n_origins < 64) {
    snprintf(LOG.origins[LOG.n_origins], sizeof LOG.origins[0], "%s|%.*s", e->origin,
             (int)e->data_len, (const char *)e->data);
    LOG.n_origins++;
  }
}

/* 40 sources of 20 origins (more than the queue's rows), each posting twice, interleaved, with
 * "*", "/" or a URL: every message arrives with its own source origin, in order. */
static void many_sources(void) {
  memset(&LOG, 0, sizeof LOG);
  struct pm_window *target = pm_window_new("https://t.example/");
  REQUIRE(target);
  CHECK_RC(pm_window_set_dispatch_mode(target, PM_DISPATCH_QUEUED), PM_OK);
  CHECK(pm_add_listener(target, on_origin, NULL) != 0);
  struct pm_window *src[20];
  char url[64];
  for (int i = 0; i < 20; i++) {
    snprintf(url, sizeof url, "https://s%d.example/", i);
    src[i] = pm_window_new(url);
    REQUIRE(src[i]);
  }
  const char *targets[] = {"*", "https://t.example", "https://t.example/path?q"};
  char data[8];
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 20; i++) {
      snprintf(data, sizeof data, "%d.%d", round, i);
      CHECK_RC(pm_post_message(src[i], target, (const uint8_t *)data, strlen(data),
                               targets[(i + round) % 3]),
               PM_OK);
    }
  }
  CHECK(pm_window_pending(target) == 40);
  CHECK(pm_window_run_pending(target, SIZE_MAX) == 40);
  CHECK(LOG.n_origins == 40);
  char want[48];
  for (int n = 0; n < LOG.n_origins; n++) {
    snprintf(want, sizeof want, "https://s%d.example|%d.%d", n % 20, n / 20, n % 20);
    CHECK_STR(LOG.origins[n], want);
  }
  for (int i = 0; i < 20; i++) pm_window_free(src[i]);
  pm_window_free(target);
}

int main(void) {
  CHECK_RC(pm_set_drop_handler(on_drop, NULL), PM_OK);
  /* A listener added by the first message's listener hears the next two. */
  port_case(ADD_SECOND, 3, 2, 0);
  broadcast_case(ADD_SECOND, 3, 2, 0);
  /* A listener that removed itself hears nothing more. */
  port_case(REMOVE_SELF, 1, 0, 0);
  broadcast_case(REMOVE_SELF, 1, 0, 0);
  /* Closed by the first message's listener: the next two are dropped and reported. */
  port_case(CLOSE, 1, 0, 2);
  broadcast_case(CLOSE, 1, 0, 2);
  many_sources();
  CHECK_RC(pm_set_drop_handler(NULL, NULL), PM_OK);
  TEST_EXIT("test_queue_drain");
}
