/* diagnostics.c: console warnings for dropped messages.
 *
 * The HTML standard drops a message whose targetOrigin does not match silently: the sender's
 * postMessage returns normally. Browsers help developers by printing a console warning, e.g.
 *
 *   Failed to execute 'postMessage' on 'DOMWindow': The target origin provided
 *   ('https://x') does not match the recipient window's origin ('http://y').
 *
 * postmessage offers the same through a process-wide drop handler, told about every message the
 * library decides not to deliver, and why. This example installs one that prints warnings in
 * the browser's style, then:
 *
 *   1. posts with a wrong targetOrigin (dropped at once, SYNC mode);
 *   2. posts with a wrong targetOrigin to a QUEUED window (dropped when the queue runs);
 *   3. sends a message from an unexpected origin to a window whose listener has an allow-list
 *      (pm_add_listener_for_origins), which filters it out;
 *   4. overflows a small queue limit.
 *
 * Exits non-zero if anything did not happen as expected.
 *
 * Build: cc -std=c11 -Iinclude c-examples/diagnostics.c -Ltarget/release -lpostmessage
 */
#include <stdio.h>
#include <string.h>

#include "postmessage.h"

static int failures = 0;

static void expect(int ok, const char *what) {
  if (!ok) {
    failures++;
    printf("   !! unexpected: %s\n", what);
  }
}

/* ------------------------------------------------------------------ the drop handler */

typedef struct {
  int warnings[7]; /* per pm_drop_reason */
} console_state;

static void console_warn(const pm_drop_event *event, void *user_data) {
  console_state *console = user_data;
  if (event->reason >= 1 && event->reason <= 6) console->warnings[event->reason]++;
  switch (event->reason) {
    case PM_DROP_ORIGIN_MISMATCH:
      printf("   console: Failed to execute 'postMessage' on 'DOMWindow': The target origin "
             "provided ('%s') does not match the recipient window's origin ('%s').\n",
             event->requested_origin, event->target_origin);
      break;
    case PM_DROP_FILTERED:
      printf("   console: A message from '%s' to '%s' was not delivered to a listener that only "
             "accepts other origins (%zu bytes).\n",
             event->source_origin, event->target_origin, event->data_len);
      break;
    case PM_DROP_QUEUE_FULL:
      printf("   console: A message from '%s' was refused: the event queue of '%s' is full.\n",
             event->source_origin, event->target_origin);
      break;
    case PM_DROP_NAVIGATED:
      printf("   console: A message for '%s' was discarded: the window navigated away.\n",
             event->target_origin);
      break;
    case PM_DROP_TARGET_GONE:
      printf("   console: A message was discarded: its recipient is gone.\n");
      break;
    case PM_DROP_DEPTH:
      printf("   console: A message was refused: too many nested dispatches.\n");
      break;
    default:
      printf("   console: A message was dropped (reason %d).\n", (int)event->reason);
      break;
  }
}

/* ------------------------------------------------------------------ listeners */

static void print_message(const pm_message_event *event, void *user_data) {
  int *count = user_data;
  (*count)++;
  printf("   listener got \"%.*s\" from %s\n", (int)event->data_len, (const char *)event->data,
         event->origin);
}

static const char *result_name(pm_result rc) {
  switch (rc) {
    case PM_OK: return "PM_OK";
    case PM_DROPPED: return "PM_DROPPED";
    case PM_ERR_QUEUE_FULL: return "PM_ERR_QUEUE_FULL";
    default: return pm_last_error();
  }
}

static pm_result post(pm_window *from, pm_window *to, const char *text, const char *origin) {
  pm_result rc = pm_post_message(from, to, (const uint8_t *)text, strlen(text), origin);
  printf("   postMessage(\"%s\", \"%s\") -> %s\n", text, origin, result_name(rc));
  return rc;
}

int main(void) {
  printf("postmessage %s: console warnings for dropped messages\n\n", pm_version());

  console_state console;
  memset(&console, 0, sizeof console);
  pm_set_drop_handler(console_warn, &console);

  pm_window *page = pm_window_new("http://127.0.0.1/");
  pm_window *frame = page ? pm_window_new_child(page, "http://localhost/frame") : NULL;
  pm_window *stranger = pm_window_new("https://evil.example/");
  if (!page || !frame || !stranger) {
    printf("could not create the windows: %s\n", pm_last_error());
    return 1;
  }
  int frame_messages = 0;
  uint64_t frame_listener = pm_add_listener(frame, print_message, &frame_messages);

  printf("1. The page (http://127.0.0.1) posts to its iframe (http://localhost) with a wrong\n"
         "   targetOrigin. The post returns PM_DROPPED as the standard says (silently for the\n"
         "   page's script), and the drop handler warns:\n");
  expect(post(page, frame, "token=1234", "https://x.example") == PM_DROPPED, "dropped");
  expect(console.warnings[PM_DROP_ORIGIN_MISMATCH] == 1, "one origin-mismatch warning");
  printf("   With the right targetOrigin it arrives:\n");
  expect(post(page, frame, "token=1234", "http://localhost") == PM_OK, "delivered");
  expect(frame_messages == 1, "the frame got one message");

  printf("\n2. The same with the iframe in QUEUED mode: the post only queues (PM_OK); the origin\n"
         "   is checked, and the warning printed, when the queue runs.\n");
  pm_window_set_dispatch_mode(frame, PM_DISPATCH_QUEUED);
  expect(post(page, frame, "queued secret", "https://y.example:8443/path") == PM_OK, "queued");
  expect(console.warnings[PM_DROP_ORIGIN_MISMATCH] == 1, "no warning yet");
  printf("   pm_window_run_pending(frame):\n");
  size_t ran = pm_window_run_pending(frame, SIZE_MAX);
  printf("   -> took %zu message(s)\n", ran);
  expect(console.warnings[PM_DROP_ORIGIN_MISMATCH] == 2, "a second origin-mismatch warning");
  pm_window_set_dispatch_mode(frame, PM_DISPATCH_SYNC);

  printf("\n3. The iframe replaces its listener with one that only accepts the page's origin\n"
         "   (pm_add_listener_for_origins). A stranger (https://evil.example) posts with \"*\":\n"
         "   the post succeeds, but the allow-list listener is skipped and the handler says so.\n");
  pm_remove_listener(frame, frame_listener);
  const char *allowed[] = {"http://127.0.0.1"};
  int allowed_messages = 0;
  pm_add_listener_for_origins(frame, allowed, 1, print_message, &allowed_messages, NULL);
  expect(post(stranger, frame, "click here", "*") == PM_OK, "posted");
  expect(allowed_messages == 0, "the allow-list listener did not run");
  expect(console.warnings[PM_DROP_FILTERED] == 1, "one filtered warning");
  printf("   The page itself gets through:\n");
  expect(post(page, frame, "hello", "http://localhost") == PM_OK, "posted");
  expect(allowed_messages == 1, "the allow-list listener ran for the page");

  printf("\n4. A QUEUED window with a queue limit of 2 messages; the third post is refused.\n");
  pm_window_set_dispatch_mode(frame, PM_DISPATCH_QUEUED);
  pm_window_set_queue_limit(frame, 2, 0);
  post(page, frame, "one", "*");
  post(page, frame, "two", "*");
  expect(post(page, frame, "three", "*") == PM_ERR_QUEUE_FULL, "refused");
  expect(console.warnings[PM_DROP_QUEUE_FULL] == 1, "one queue-full warning");
  pm_window_run_pending(frame, SIZE_MAX);

  pm_set_drop_handler(NULL, NULL);
  printf("\nWith the handler removed, drops are silent again:\n");
  expect(post(page, stranger, "quiet", "https://x.example") == PM_DROPPED, "dropped");

  printf("\nWarnings printed: %d origin mismatch, %d filtered, %d queue full.\n",
         console.warnings[PM_DROP_ORIGIN_MISMATCH], console.warnings[PM_DROP_FILTERED],
         console.warnings[PM_DROP_QUEUE_FULL]);
  expect(console.warnings[PM_DROP_ORIGIN_MISMATCH] == 2, "two origin-mismatch warnings in all");

  pm_window_free(stranger);
  pm_window_free(page);

  if (failures) {
    printf("\n%d unexpected result(s)\n", failures);
    return 1;
  }
  printf("\nAll as expected.\n");
  return 0;
}
