/* A tiny test harness shared by the C test programs in tests/c/.
 *
 * CHECK(expr)          records a failure (file:line and the expression) and carries on.
 * REQUIRE(expr)        the same, but stops the program (use when carrying on would crash).
 * CHECK_RC(call, rc)   compares a pm_result and prints both names and pm_last_error().
 * CHECK_STR(a, b)      compares two C strings (NULL-safe) and prints both.
 * TEST_EXIT()          prints a one-line summary and returns the exit status from main.
 *
 * The counters are atomic, so CHECK may be used from any thread. */
#ifndef PM_TEST_CHECK_H
#define PM_TEST_CHECK_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postmessage.h"

static atomic_long pm_test_checks;
static atomic_long pm_test_failures;

static inline const char *pm_test_rc_name(int rc) {
  switch (rc) {
    case PM_OK: return "PM_OK";
    case PM_DROPPED: return "PM_DROPPED";
    case PM_ERR_NULL_ARGUMENT: return "PM_ERR_NULL_ARGUMENT";
    case PM_ERR_INVALID_HANDLE: return "PM_ERR_INVALID_HANDLE";
    case PM_ERR_SYNTAX: return "PM_ERR_SYNTAX";
    case PM_ERR_INVALID_URL: return "PM_ERR_INVALID_URL";
    case PM_ERR_UTF8: return "PM_ERR_UTF8";
    case PM_ERR_DEPTH: return "PM_ERR_DEPTH";
    case PM_ERR_PANIC: return "PM_ERR_PANIC";
    case PM_ERR_DATA_CLONE: return "PM_ERR_DATA_CLONE";
    case PM_ERR_CLOSED: return "PM_ERR_CLOSED";
    case PM_ERR_QUEUE_FULL: return "PM_ERR_QUEUE_FULL";
    case PM_ERR_INVALID_ARGUMENT: return "PM_ERR_INVALID_ARGUMENT";
    case PM_ERR_SOURCE_ORIGIN: return "PM_ERR_SOURCE_ORIGIN";
    default: return "(unknown pm_result)";
  }
}

static inline int pm_test_check(int ok, const char *file, int line, const char *expr) {
  atomic_fetch_add(&pm_test_checks, 1);
  if (!ok) {
    atomic_fetch_add(&pm_test_failures, 1);
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
  }
  return ok;
}

#define CHECK(expr) ((void)pm_test_check((expr) ? 1 : 0, __FILE__, __LINE__, #expr))

#define REQUIRE(expr)                                                              \
  do {                                                                             \
    if (!pm_test_check((expr) ? 1 : 0, __FILE__, __LINE__, #expr)) {               \
      fprintf(stderr, "%s:%d: REQUIRE failed, stopping\n", __FILE__, __LINE__);    \
      exit(1);                                                                     \
    }                                                                              \
  } while (0)

#define CHECK_RC(call, expected)                                                   \
  do {                                                                             \
    int pm_rc_ = (int)(call);                                                      \
    int pm_exp_ = (int)(expected);                                                 \
    if (!pm_test_check(pm_rc_ == pm_exp_, __FILE__, __LINE__, #call " == " #expected)) \
      fprintf(stderr, "    got %s (%d), expected %s (%d); pm_last_error(): \"%s\"\n", \
              pm_test_rc_name(pm_rc_), pm_rc_, pm_test_rc_name(pm_exp_), pm_exp_,    \
              pm_last_error());                                                    \
  } while (0)

#define CHECK_STR(actual, expected)                                                \
  do {                                                                             \
    const char *pm_a_ = (actual);                                                  \
    const char *pm_e_ = (expected);                                                \
    int pm_ok_ = pm_a_ != NULL && pm_e_ != NULL && strcmp(pm_a_, pm_e_) == 0;      \
    if (!pm_test_check(pm_ok_, __FILE__, __LINE__, #actual " equals " #expected))  \
      fprintf(stderr, "    got \"%s\", expected \"%s\"\n", pm_a_ ? pm_a_ : "(NULL)", \
              pm_e_ ? pm_e_ : "(NULL)");                                           \
  } while (0)

/* pm_last_error() is never NULL and, right after a failure, not empty. */
#define CHECK_HAS_ERROR()                                                          \
  do {                                                                             \
    const char *pm_le_ = pm_last_error();                                          \
    CHECK(pm_le_ != NULL && pm_le_[0] != '\0');                                    \
  } while (0)

#define TEST_EXIT(name)                                                            \
  do {                                                                             \
    long pm_f_ = atomic_load(&pm_test_failures);                                   \
    long pm_c_ = atomic_load(&pm_test_checks);                                     \
    if (pm_f_ == 0) {                                                              \
      printf("%s: all %ld checks passed\n", (name), pm_c_);                        \
      return 0;                                                                    \
    }                                                                              \
    printf("%s: %ld of %ld checks FAILED\n", (name), pm_f_, pm_c_);                \
    return 1;                                                                      \
  } while (0)

/* Posts a NUL-terminated string (without its NUL) from source to target. */
static inline pm_result pm_test_post(pm_window *source, pm_window *target, const char *text,
                                     const char *target_origin) {
  return pm_post_message(source, target, (const uint8_t *)text, strlen(text), target_origin);
}

/* The window's serialized origin, in a static buffer (not thread-safe; tests use it from one
 * thread only). */
static inline const char *pm_test_origin(const pm_window *window) {
  static char buf[256];
  buf[0] = '\0';
  pm_window_origin(window, buf, sizeof buf);
  return buf;
}

#endif /* PM_TEST_CHECK_H */
