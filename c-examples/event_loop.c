/* event_loop.c: queued delivery (PM_DISPATCH_QUEUED) driven by an event loop.
 *
 * A browser does not run a page's message listeners inside the sender's postMessage call: it
 * queues a task on the page's event loop. This example does the same with postmessage:
 *
 *   - the page window is put in PM_DISPATCH_QUEUED mode, so posting to it only queues;
 *   - its waker, called whenever the queue goes from empty to non-empty, writes to an eventfd;
 *   - the main thread's poll() loop wakes up on the eventfd and calls pm_window_run_pending,
 *     which runs the page's listeners here, on the main thread;
 *   - a worker thread posts progress reports to the page the whole time.
 *
 * In JavaScript terms the worker does `page.postMessage('progress 3/8', 'https://app.example')`
 * and the page has `window.addEventListener('message', ...)`.
 *
 * Exits non-zero if anything did not happen as expected.
 *
 * Build: cc -std=c11 -Iinclude c-examples/event_loop.c -Ltarget/release -lpostmessage -pthread
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "postmessage.h"

#define STEPS 8

static int failures = 0;

static void expect(int ok, const char *what) {
  if (!ok) {
    failures++;
    printf("   !! unexpected: %s\n", what);
  }
}

/* ------------------------------------------------------------------ the waker */

/* Called by the library on the posting thread (here: the worker) when the page's queue becomes
 * non-empty. It must only signal the loop; the loop does the work. */
static atomic_int wake_count;

static void wake_main_loop(pm_window *window, void *user_data) {
  (void)window;
  int efd = *(const int *)user_data;
  uint64_t one = 1;
  atomic_fetch_add(&wake_count, 1);
  ssize_t n = write(efd, &one, sizeof one);
  (void)n; /* an eventfd write of 1 cannot fail short of overflow */
}

/* ------------------------------------------------------------------ the page */

typedef struct {
  pthread_t main_thread;
  int received;
  int done;
  int wrong_thread;
  int out_of_order;
  int next_step;
} page_state;

static void page_on_message(const pm_message_event *event, void *user_data) {
  page_state *page = user_data;
  page->received++;
  int on_main = pthread_equal(pthread_self(), page->main_thread);
  if (!on_main) page->wrong_thread++;
  printf("   [main]   page got \"%.*s\" from %s (%s)\n", (int)event->data_len,
         (const char *)event->data, event->origin,
         on_main ? "on the main thread" : "NOT on the main thread");
  /* event->data is bytes, not a C string: copy it before using string functions */
  char text[32] = "";
  if (event->data_len < sizeof text) memcpy(text, event->data, event->data_len);
  int step;
  if (sscanf(text, "progress %d/", &step) == 1) {
    if (step != page->next_step) page->out_of_order++;
    page->next_step = step + 1;
  }
  if (event->data_len == 4 && memcmp(event->data, "done", 4) == 0) page->done = 1;
}

/* ------------------------------------------------------------------ the worker */

typedef struct {
  pm_window *worker_window;
  pm_window *page;
  int refused;
} worker_args;

static void *worker_main(void *arg) {
  worker_args *w = arg;
  char text[32];
  for (int step = 1; step <= STEPS; step++) {
    int len = snprintf(text, sizeof text, "progress %d/%d", step, STEPS);
    printf("   [worker] posts \"%s\"\n", text);
    /* returns at once: the page is QUEUED, so no listener runs on this thread */
    if (pm_post_message(w->worker_window, w->page, (const uint8_t *)text, (size_t)len,
                        "https://app.example") != PM_OK)
      w->refused++;
    if (step == STEPS / 2) {
      /* a message for the wrong origin is queued as well, and dropped at delivery */
      printf("   [worker] posts \"secret\" with targetOrigin https://bank.example (will be dropped)\n");
      if (pm_post_message(w->worker_window, w->page, (const uint8_t *)"secret", 6,
                          "https://bank.example") != PM_OK)
        w->refused++;
    }
    usleep(2000);
  }
  printf("   [worker] posts \"done\"\n");
  if (pm_post_message(w->worker_window, w->page, (const uint8_t *)"done", 4, "https://app.example") !=
      PM_OK)
    w->refused++;
  return NULL;
}

/* ------------------------------------------------------------------ main */

int main(void) {
  printf("postmessage %s: queued delivery driven by a poll() loop\n\n", pm_version());

  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) {
    perror("eventfd");
    return 1;
  }

  pm_window *page = pm_window_new("https://app.example/index.html");
  pm_window *worker_window = pm_window_new("https://worker.example/job.js");
  if (!page || !worker_window) {
    printf("could not create the windows: %s\n", pm_last_error());
    return 1;
  }

  page_state state = {pthread_self(), 0, 0, 0, 0, 1};
  pm_add_listener(page, page_on_message, &state);

  printf("1. The page switches to queued delivery and installs a waker writing to an eventfd.\n");
  expect(pm_window_set_dispatch_mode(page, PM_DISPATCH_QUEUED) == PM_OK, "set_dispatch_mode");
  expect(pm_window_set_waker(page, wake_main_loop, &efd) == PM_OK, "set_waker");

  printf("2. A worker thread starts posting progress reports to the page.\n");
  worker_args args = {worker_window, page, 0};
  pthread_t worker;
  if (pthread_create(&worker, NULL, worker_main, &args) != 0) {
    printf("could not start the worker\n");
    return 1;
  }

  printf("3. The main thread runs its event loop: poll() the eventfd, then run the queue.\n\n");
  int turns = 0;
  size_t total_taken = 0;
  while (!state.done) {
    struct pollfd pfd = {efd, POLLIN, 0};
    int ready = poll(&pfd, 1, 5000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      printf("   !! the loop waited 5 s without a wake-up\n");
      failures++;
      break;
    }
    uint64_t wakes;
    if (read(efd, &wakes, sizeof wakes) != (ssize_t)sizeof wakes) continue;
    turns++;
    printf("   [main]   woke up (turn %d), %zu message(s) waiting\n", turns,
           pm_window_pending(page));
    /* Run what is queued. A real loop would pass a budget (e.g. 64) and come back later. */
    size_t taken = pm_window_run_pending(page, SIZE_MAX);
    total_taken += taken;
    printf("   [main]   ran %zu queued message(s)\n", taken);
  }
  pthread_join(worker, NULL);
  total_taken += pm_window_run_pending(page, SIZE_MAX); /* nothing should be left */

  printf("\n4. Summary\n");
  printf("   the page received %d message(s) in %d loop turn(s); the waker fired %d time(s)\n",
         state.received, turns, atomic_load(&wake_count));
  printf("   %zu message(s) were taken off the queue: one of them (\"secret\") was dropped at\n"
         "   delivery because its targetOrigin did not match the page's origin\n",
         total_taken);
  expect(args.refused == 0, "every post was queued");
  expect(state.received == STEPS + 1, "the page got every progress report and \"done\"");
  expect(total_taken == (size_t)STEPS + 2, "run_pending took every queued message");
  expect(state.wrong_thread == 0, "listeners ran on the main thread");
  expect(state.out_of_order == 0, "progress reports arrived in order");
  expect(atomic_load(&wake_count) >= 1, "the waker fired");
  expect(pm_window_pending(page) == 0, "the queue is empty");

  pm_window_free(worker_window);
  pm_window_free(page);
  close(efd);

  if (failures) {
    printf("\n%d unexpected result(s)\n", failures);
    return 1;
  }
  printf("\nAll as expected.\n");
  return 0;
}
