/* consumer.c: a program built against an *installed* postmessage. tests/install/run.sh builds
 * it with pkg-config, with CMake's find_package (postmessage::postmessage and
 * postmessage::postmessage_static) and statically against libpostmessage.a, then runs each.
 *
 * Checks that the header's PM_VERSION_* macros agree with each other, with pm_version() of the
 * library it runs against and with Cargo.toml's version (PM_EXPECTED_VERSION, passed with -D),
 * then runs the reference exchange (a page posts "Hello World" to its iframe, which checks the
 * sender's origin and replies "Hello"). Exits non-zero on any failure.
 */
#include <postmessage.h>

#include <stdio.h>
#include <string.h>

#ifndef PM_HOW
#define PM_HOW "unspecified"
#endif

#if !PM_VERSION_AT_LEAST(0, 1, 0) || PM_VERSION_AT_LEAST(PM_VERSION_MAJOR, PM_VERSION_MINOR, PM_VERSION_PATCH + 1)
#error "PM_VERSION_AT_LEAST does not work in #if"
#endif

static int failures = 0;

static void expect(int ok, const char *what) {
  if (!ok) {
    failures++;
    printf("  !! %s\n", what);
  }
}

static int data_is(const pm_message_event *e, const char *text) {
  return e->data_len == strlen(text) && memcmp(e->data, text, e->data_len) == 0;
}

static void iframe_on_message(const pm_message_event *e, void *user_data) {
  (void)user_data;
  if (strcmp(e->origin, "http://127.0.0.1") == 0 && data_is(e, "Hello World")) {
    pm_post_message(e->target, e->source, (const uint8_t *)"Hello", 5, e->origin);
  }
}

static void parent_on_message(const pm_message_event *e, void *user_data) {
  int *replies = user_data;
  if (strcmp(e->origin, "http://localhost") == 0 && data_is(e, "Hello")) (*replies)++;
}

int main(void) {
  /* The version macros: MAJOR.MINOR.PATCH is PM_VERSION_STRING (up to a pre-release or build
   * suffix), which is what the library reports and what Cargo.toml says. */
  char numbers[64];
  snprintf(numbers, sizeof numbers, "%d.%d.%d", PM_VERSION_MAJOR, PM_VERSION_MINOR,
           PM_VERSION_PATCH);
  const size_t n = strlen(numbers);
  expect(strncmp(numbers, PM_VERSION_STRING, n) == 0 &&
             (PM_VERSION_STRING[n] == '\0' || PM_VERSION_STRING[n] == '-' ||
              PM_VERSION_STRING[n] == '+'),
         "PM_VERSION_MAJOR.MINOR.PATCH should match PM_VERSION_STRING");
  expect(strcmp(pm_version(), PM_VERSION_STRING) == 0,
         "pm_version() should equal the header's PM_VERSION_STRING");
#ifdef PM_EXPECTED_VERSION
  expect(strcmp(PM_VERSION_STRING, PM_EXPECTED_VERSION) == 0,
         "PM_VERSION_STRING should equal Cargo.toml's version");
#endif

  pm_window *parent = pm_window_new("http://127.0.0.1/index.html");
  pm_window *iframe = parent ? pm_window_new_child(parent, "http://localhost/frame.html") : NULL;
  expect(parent != NULL && iframe != NULL, "creating the windows");
  int replies = 0;
  expect(pm_add_listener(iframe, iframe_on_message, NULL) != 0, "adding the iframe's listener");
  expect(pm_add_listener(parent, parent_on_message, &replies) != 0, "adding the parent's listener");
  expect(pm_post_message(parent, iframe, (const uint8_t *)"Hello World", 11, "http://localhost") ==
             PM_OK,
         "posting \"Hello World\" should return PM_OK");
  expect(replies == 1, "the parent should get the iframe's reply \"Hello\"");
  expect(pm_post_message(parent, iframe, (const uint8_t *)"x", 1, "https://localhost") == PM_DROPPED,
         "a wrong targetOrigin should be dropped");
  expect(pm_window_free(parent) == PM_OK, "freeing the windows");

  printf("consumer built with %s: header %s, library %s: %s\n", PM_HOW, PM_VERSION_STRING,
         pm_version(), failures == 0 ? "OK" : "FAILED");
  return failures == 0 ? 0 : 1;
}
