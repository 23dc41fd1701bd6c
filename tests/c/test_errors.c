/* Errors and argument checking: result codes, pm_last_error(), NULL arguments, invalid, freed
 * and forged handles, invalid UTF-8, invalid URLs, and large or binary messages. */
#include <stddef.h>

#include "check.h"

/* The numeric values of pm_result and the event layout are part of the ABI (API.md). */
_Static_assert(PM_OK == 0, "PM_OK");
_Static_assert(PM_DROPPED == 1, "PM_DROPPED");
_Static_assert(PM_ERR_NULL_ARGUMENT == 2, "PM_ERR_NULL_ARGUMENT");
_Static_assert(PM_ERR_INVALID_HANDLE == 3, "PM_ERR_INVALID_HANDLE");
_Static_assert(PM_ERR_SYNTAX == 4, "PM_ERR_SYNTAX");
_Static_assert(PM_ERR_INVALID_URL == 5, "PM_ERR_INVALID_URL");
_Static_assert(PM_ERR_UTF8 == 6, "PM_ERR_UTF8");
_Static_assert(PM_ERR_DEPTH == 7, "PM_ERR_DEPTH");
_Static_assert(PM_ERR_PANIC == 8, "PM_ERR_PANIC");
_Static_assert(PM_ERR_DATA_CLONE == 9, "PM_ERR_DATA_CLONE");
_Static_assert(PM_ERR_CLOSED == 10, "PM_ERR_CLOSED");
_Static_assert(PM_ERR_QUEUE_FULL == 11, "PM_ERR_QUEUE_FULL");
_Static_assert(PM_ERR_INVALID_ARGUMENT == 12, "PM_ERR_INVALID_ARGUMENT");
_Static_assert(offsetof(pm_message_event, data) == 0, "event layout");
_Static_assert(offsetof(pm_message_event, data_len) > offsetof(pm_message_event, data), "event layout");
_Static_assert(offsetof(pm_message_event, origin) > offsetof(pm_message_event, data_len), "event layout");
_Static_assert(offsetof(pm_message_event, last_event_id) > offsetof(pm_message_event, origin), "event layout");
_Static_assert(offsetof(pm_message_event, source) > offsetof(pm_message_event, last_event_id), "event layout");
_Static_assert(offsetof(pm_message_event, target) > offsetof(pm_message_event, source), "event layout");
_Static_assert(offsetof(pm_message_event, ports) > offsetof(pm_message_event, target), "event layout");
_Static_assert(offsetof(pm_message_event, ports_len) > offsetof(pm_message_event, ports), "event layout");

static int calls;

static void count_listener(const pm_message_event *event, void *user_data) {
  (void)event;
  (void)user_data;
  calls++;
}

static void test_version_and_last_error(void) {
  /* nothing has failed on this thread yet */
  const char *none = pm_last_error();
  REQUIRE(none != NULL);
  CHECK_STR(none, "");

  const char *v = pm_version();
  REQUIRE(v != NULL);
  CHECK(v[0] >= '0' && v[0] <= '9');
  CHECK(strchr(v, '.') != NULL);
  CHECK(pm_version() == v || strcmp(pm_version(), v) == 0);

  /* a failure is described; a later success does not erase the description */
  CHECK(pm_window_new("not a url") == NULL);
  CHECK_HAS_ERROR();
  char saved[512];
  snprintf(saved, sizeof saved, "%s", pm_last_error());
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  CHECK(pm_window_origin(w, NULL, 0) > 0);
  CHECK_STR(pm_last_error(), saved);
  /* the next failure replaces it */
  CHECK_RC(pm_test_post(w, w, "x", "localhost"), PM_ERR_SYNTAX);
  CHECK_HAS_ERROR();
  CHECK(strcmp(pm_last_error(), saved) != 0);
  CHECK_RC(pm_window_free(w), PM_OK);
}

static void test_null_arguments(void) {
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  const uint8_t data[] = "abc";

  CHECK(pm_window_new(NULL) == NULL);
  CHECK_HAS_ERROR();
  CHECK(pm_window_new_child(NULL, "http://a.example/") == NULL);
  CHECK_HAS_ERROR();
  CHECK(pm_window_new_child(w, NULL) == NULL);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_window_free(NULL), PM_OK);                    /* like free(NULL) */
  CHECK_RC(pm_window_navigate(NULL, "http://a.example/"), PM_ERR_NULL_ARGUMENT);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_window_navigate(w, NULL), PM_ERR_NULL_ARGUMENT);
  CHECK(pm_window_origin(NULL, NULL, 0) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_window_parent(NULL) == NULL);
  CHECK(pm_add_listener(NULL, count_listener, NULL) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_add_listener(w, NULL, NULL) == 0);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_remove_listener(NULL, 1), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_post_message(NULL, w, data, 3, "*"), PM_ERR_NULL_ARGUMENT);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_post_message(w, NULL, data, 3, "*"), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_post_message(w, w, data, 3, NULL), PM_ERR_NULL_ARGUMENT);
  CHECK_RC(pm_post_message_transfer(NULL, w, data, 3, "*", NULL, 0), PM_ERR_NULL_ARGUMENT);

  /* data NULL is allowed only with length 0 */
  CHECK(pm_add_listener(w, count_listener, NULL) > 0);
  calls = 0;
  CHECK_RC(pm_post_message(w, w, NULL, 5, "*"), PM_ERR_NULL_ARGUMENT);
  CHECK_HAS_ERROR();
  CHECK(calls == 0);
  CHECK_RC(pm_post_message(w, w, NULL, 0, "*"), PM_OK);
  CHECK(calls == 1);
  CHECK_RC(pm_window_free(w), PM_OK);
}

static void check_rejected_window(pm_window *bad, pm_window *good) {
  const uint8_t data[] = "abc";
  char buf[64];
  calls = 0;
  CHECK_RC(pm_window_free(bad), PM_ERR_INVALID_HANDLE);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_window_navigate(bad, "http://a.example/"), PM_ERR_INVALID_HANDLE);
  CHECK_HAS_ERROR();
  CHECK(pm_window_origin(bad, buf, sizeof buf) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_window_parent(bad) == NULL);
  CHECK_HAS_ERROR();
  CHECK(pm_window_new_child(bad, "about:blank") == NULL);
  CHECK_HAS_ERROR();
  CHECK(pm_add_listener(bad, count_listener, NULL) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_add_listener_full(bad, count_listener, NULL, NULL) == 0);
  CHECK_RC(pm_remove_listener(bad, 1), PM_ERR_INVALID_HANDLE);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_post_message(bad, good, data, 3, "*"), PM_ERR_INVALID_HANDLE);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_post_message(good, bad, data, 3, "*"), PM_ERR_INVALID_HANDLE);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_post_message(bad, bad, data, 3, "*"), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_post_message_transfer(good, bad, data, 3, "*", NULL, 0), PM_ERR_INVALID_HANDLE);
  CHECK(calls == 0);
}

static void test_bad_handles(void) {
  pm_window *good = pm_window_new("http://a.example/");
  REQUIRE(good != NULL);
  CHECK(pm_add_listener(good, count_listener, NULL) > 0);

  /* freed, and freed twice */
  pm_window *freed = pm_window_new("http://b.example/");
  REQUIRE(freed != NULL);
  CHECK_RC(pm_window_free(freed), PM_OK);
  check_rejected_window(freed, good);

  /* a child freed with its parent */
  pm_window *parent = pm_window_new("http://b.example/");
  REQUIRE(parent != NULL);
  pm_window *child = pm_window_new_child(parent, "http://c.example/");
  REQUIRE(child != NULL);
  CHECK_RC(pm_window_free(parent), PM_OK);
  check_rejected_window(child, good);

  /* forged values, including real addresses: never dereferenced */
  int on_stack = 0;
  void *on_heap = malloc(64);
  REQUIRE(on_heap != NULL);
  memset(on_heap, 0xab, 64);
  pm_window *forged[] = {
      (pm_window *)(uintptr_t)0x1234,
      (pm_window *)(uintptr_t)1,
      (pm_window *)(uintptr_t)0xdeadbeef,
      (pm_window *)(uintptr_t)UINTPTR_MAX,
      (pm_window *)(uintptr_t)((uintptr_t)good + 1),
      (pm_window *)(uintptr_t)((uintptr_t)good ^ ((uintptr_t)1 << 40)),
      (pm_window *)(uintptr_t)((uintptr_t)good + 0x7ffffff0u),       /* far beyond any slot */
      (pm_window *)(uintptr_t)((uintptr_t)good & ~(uintptr_t)0xffffffffu), /* low half zero */
      (pm_window *)(void *)&on_stack,
      (pm_window *)on_heap,
  };
  for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
    if (forged[i] == good) continue;
    check_rejected_window(forged[i], good);
  }
  free(on_heap);

  /* the good window was never disturbed */
  calls = 0;
  CHECK_RC(pm_test_post(good, good, "x", "/"), PM_OK);
  CHECK(calls == 1);

  /* a freed handle stays invalid even after many new windows reuse the table */
  pm_window *old = pm_window_new("http://old.example/");
  REQUIRE(old != NULL);
  CHECK_RC(pm_window_free(old), PM_OK);
  for (int round = 0; round < 3; round++) {
    pm_window *batch[1500];
    for (int i = 0; i < 1500; i++) {
      batch[i] = pm_window_new("http://new.example/");
      REQUIRE(batch[i] != NULL);
      CHECK(batch[i] != old);
    }
    CHECK(pm_window_origin(old, NULL, 0) == 0);
    for (int i = 0; i < 1500; i++) CHECK_RC(pm_window_free(batch[i]), PM_OK);
  }
  CHECK_RC(pm_window_free(old), PM_ERR_INVALID_HANDLE);
  CHECK_RC(pm_window_free(good), PM_OK);
}

static void test_invalid_utf8(void) {
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  CHECK(pm_add_listener(w, count_listener, NULL) > 0);
  calls = 0;

  const char *bad_urls[] = {"http://\xff.example/", "http://a.example/\xc3", "\xc0\xaf",
                            "http://a.example/\xed\xa0\x80" /* surrogate */};
  for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
    CHECK(pm_window_new(bad_urls[i]) == NULL);
    CHECK_HAS_ERROR();
    CHECK(pm_window_new_child(w, bad_urls[i]) == NULL);
    CHECK_HAS_ERROR();
    CHECK_RC(pm_window_navigate(w, bad_urls[i]), PM_ERR_UTF8);
    CHECK_HAS_ERROR();
    CHECK_RC(pm_test_post(w, w, "x", bad_urls[i]), PM_ERR_UTF8);
    CHECK_HAS_ERROR();
  }
  CHECK_RC(pm_test_post(w, w, "x", "*\xff"), PM_ERR_UTF8);
  CHECK_RC(pm_test_post(w, w, "x", "\xff"), PM_ERR_UTF8);
  CHECK_RC(pm_test_post(w, w, "x", "http://a.example/\xff"), PM_ERR_UTF8); /* even if the origin would match */
  CHECK(calls == 0);
  CHECK_STR(pm_test_origin(w), "http://a.example"); /* navigation failures changed nothing */

  /* valid non-ASCII UTF-8 is fine, and data is bytes, not text */
  CHECK_RC(pm_test_post(w, w, "\xff\xfe", "http://a.example/caf\xc3\xa9"), PM_OK);
  CHECK(calls == 1);
  CHECK_RC(pm_window_free(w), PM_OK);
}

static void test_invalid_urls(void) {
  pm_window *w = pm_window_new("http://a.example/");
  REQUIRE(w != NULL);
  const char *bad[] = {"", "localhost", "//localhost", "/relative/path", "not a url", "http://",
                       "http://exa mple.com", "http://a.example:99999/", "null", "http://[::1/"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(pm_window_new(bad[i]) == NULL);
    CHECK_HAS_ERROR();
    CHECK(pm_window_new_child(w, bad[i]) == NULL);
    CHECK_HAS_ERROR();
    CHECK_RC(pm_window_navigate(w, bad[i]), PM_ERR_INVALID_URL);
    CHECK_HAS_ERROR();
  }
  CHECK_STR(pm_test_origin(w), "http://a.example");
  CHECK_RC(pm_window_free(w), PM_OK);
}

/* ---------------------------------------------------------------- large and binary data */

typedef struct {
  const uint8_t *expected;
  size_t expected_len;
  int calls;
  int matched;
} big_check;

static void big_listener(const pm_message_event *event, void *user_data) {
  big_check *b = user_data;
  b->calls++;
  b->matched = event->data_len == b->expected_len && event->data != NULL &&
               memcmp(event->data, b->expected, b->expected_len) == 0;
}

static void test_large_and_binary(void) {
  pm_window *a = pm_window_new("http://127.0.0.1/");
  pm_window *b = pm_window_new("http://localhost/");
  REQUIRE(a && b);
  big_check chk = {NULL, 0, 0, 0};
  CHECK(pm_add_listener(b, big_listener, &chk) > 0);

  /* every byte value */
  uint8_t all[512];
  for (size_t i = 0; i < sizeof all; i++) all[i] = (uint8_t)(i * 7 + 3);
  for (size_t i = 0; i < 256; i++) all[i] = (uint8_t)i;
  chk.expected = all;
  chk.expected_len = sizeof all;
  CHECK_RC(pm_post_message(a, b, all, sizeof all, "http://localhost"), PM_OK);
  CHECK(chk.calls == 1 && chk.matched);

  /* 16 MiB */
  size_t big_len = (size_t)16 << 20;
  uint8_t *big = malloc(big_len);
  REQUIRE(big != NULL);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < big_len; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    big[i] = (uint8_t)x;
  }
  big[0] = 0;
  big[big_len - 1] = 0;
  chk.expected = big;
  chk.expected_len = big_len;
  chk.matched = 0;
  CHECK_RC(pm_post_message(a, b, big, big_len, "http://localhost"), PM_OK);
  CHECK(chk.calls == 2 && chk.matched);
  CHECK_RC(pm_post_message(a, b, big, big_len, "https://localhost"), PM_DROPPED);
  CHECK(chk.calls == 2);
  free(big);

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
}

int main(void) {
  test_version_and_last_error();
  test_null_arguments();
  test_bad_handles();
  test_invalid_utf8();
  test_invalid_urls();
  test_large_and_binary();
  TEST_EXIT("test_errors");
}
