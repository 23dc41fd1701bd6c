/* seed.c: the reference scenario of window.postMessage, in C.
 *
 * Document A (http://127.0.0.1) holds an iframe with document B (http://localhost).
 * In JavaScript:
 *
 *   // A
 *   iframe.contentWindow.postMessage('Hello World', 'http://localhost');
 *   // B
 *   window.addEventListener('message', function (e) {
 *     if (e.origin == 'http://127.0.0.1' && e.data == 'Hello World')
 *       e.source.postMessage('Hello', e.origin);
 *   });
 *
 * Then it shows what happens when the targetOrigin is wrong (the message is dropped silently)
 * or malformed (a SyntaxError). Exits non-zero if anything did not happen as expected.
 *
 * Build: cc -std=c11 -Iinclude c-examples/seed.c -Ltarget/release -lpostmessage -o seed
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

static const char *result_name(pm_result rc) {
  switch (rc) {
    case PM_OK: return "PM_OK";
    case PM_DROPPED: return "PM_DROPPED";
    case PM_ERR_NULL_ARGUMENT: return "PM_ERR_NULL_ARGUMENT";
    case PM_ERR_INVALID_HANDLE: return "PM_ERR_INVALID_HANDLE";
    case PM_ERR_SYNTAX: return "PM_ERR_SYNTAX";
    case PM_ERR_INVALID_URL: return "PM_ERR_INVALID_URL";
    case PM_ERR_UTF8: return "PM_ERR_UTF8";
    case PM_ERR_DEPTH: return "PM_ERR_DEPTH";
    default: return "another error";
  }
}

/* What each document's listener saw. */
typedef struct {
  int messages;
  int replied;
  pm_result reply_result;
} iframe_state;

typedef struct {
  int messages;
  char last[64];
} parent_state;

static int data_is(const pm_message_event *event, const char *text) {
  return event->data_len == strlen(text) && memcmp(event->data, text, event->data_len) == 0;
}

/* Document B's message listener. */
static void iframe_on_message(const pm_message_event *event, void *user_data) {
  iframe_state *state = user_data;
  state->messages++;
  /* event->data is bytes, not a C string: print it with its length */
  printf("   iframe  got \"%.*s\" from origin %s\n", (int)event->data_len,
         (const char *)event->data, event->origin);
  if (strcmp(event->origin, "http://127.0.0.1") == 0) { /* only trust the expected sender */
    if (data_is(event, "Hello World")) {
      /* We can reply with this: e.source.postMessage('Hello', e.origin) */
      printf("   iframe  replies \"Hello\" to event->source, targetOrigin \"%s\"\n", event->origin);
      state->reply_result = pm_post_message(event->target, event->source,
                                            (const uint8_t *)"Hello", 5, event->origin);
      state->replied++;
    }
  }
}

/* Document A's message listener. */
static void parent_on_message(const pm_message_event *event, void *user_data) {
  parent_state *state = user_data;
  state->messages++;
  snprintf(state->last, sizeof state->last, "%.*s", (int)event->data_len,
           (const char *)event->data);
  printf("   parent  got \"%.*s\" from origin %s\n", (int)event->data_len,
         (const char *)event->data, event->origin);
}

int main(void) {
  printf("postmessage %s: the window.postMessage reference scenario\n\n", pm_version());

  pm_window *parent = pm_window_new("http://127.0.0.1/index.html");
  if (parent == NULL) {
    printf("pm_window_new failed: %s\n", pm_last_error());
    return 1;
  }
  pm_window *iframe = pm_window_new_child(parent, "http://localhost/frame.html");
  if (iframe == NULL) {
    printf("pm_window_new_child failed: %s\n", pm_last_error());
    pm_window_free(parent);
    return 1;
  }
  char parent_origin[64], iframe_origin[64];
  pm_window_origin(parent, parent_origin, sizeof parent_origin);
  pm_window_origin(iframe, iframe_origin, sizeof iframe_origin);
  printf("   parent window  %-18s (top-level document A)\n", parent_origin);
  printf("   iframe window  %-18s (document B, a child of A)\n\n", iframe_origin);

  iframe_state in_iframe = {0, 0, PM_OK};
  parent_state in_parent = {0, ""};
  expect(pm_add_listener(iframe, iframe_on_message, &in_iframe) != 0, "adding the iframe's listener");
  expect(pm_add_listener(parent, parent_on_message, &in_parent) != 0, "adding the parent's listener");

  /* 1. the exchange */
  printf("1. parent -> iframe: postMessage(\"Hello World\", \"http://localhost\")\n");
  pm_result rc = pm_post_message(parent, iframe, (const uint8_t *)"Hello World", 11, "http://localhost");
  printf("   => %s (delivery is synchronous: both listeners ran before the call returned)\n\n",
         result_name(rc));
  expect(rc == PM_OK, "the post should return PM_OK");
  expect(in_iframe.messages == 1, "the iframe should get one message");
  expect(in_iframe.replied == 1 && in_iframe.reply_result == PM_OK, "the iframe's reply should return PM_OK");
  expect(in_parent.messages == 1 && strcmp(in_parent.last, "Hello") == 0, "the parent should get \"Hello\"");

  /* 2. a targetOrigin that does not match the iframe's origin */
  printf("2. wrong targetOrigin: postMessage(\"Hello World\", \"https://localhost\")\n");
  rc = pm_post_message(parent, iframe, (const uint8_t *)"Hello World", 11, "https://localhost");
  printf("   => %s: the iframe is http://localhost, not https://localhost, so the message was\n"
         "      dropped silently (as the HTML standard says) and the iframe's listener did not run\n\n",
         result_name(rc));
  expect(rc == PM_DROPPED, "a wrong targetOrigin should return PM_DROPPED");
  expect(in_iframe.messages == 1, "the iframe's listener should not run for a dropped message");

  /* 3. a targetOrigin that is not "*", "/" or an absolute URL */
  printf("3. malformed targetOrigin: postMessage(\"Hello World\", \"localhost\")\n");
  rc = pm_post_message(parent, iframe, (const uint8_t *)"Hello World", 11, "localhost");
  printf("   => %s (the DOM's SyntaxError)\n", result_name(rc));
  printf("      pm_last_error(): %s\n\n", pm_last_error());
  expect(rc == PM_ERR_SYNTAX, "a malformed targetOrigin should return PM_ERR_SYNTAX");
  expect(in_iframe.messages == 1, "the iframe's listener should not run after a SyntaxError");

  /* freeing the parent frees the iframe too */
  expect(pm_window_free(parent) == PM_OK, "freeing the parent window");

  if (failures == 0) {
    printf("OK: the exchange happened as expected (the iframe got \"Hello World\", the parent got "
           "\"Hello\").\n");
    return 0;
  }
  printf("FAILED: %d expectation(s) not met.\n", failures);
  return 1;
}
