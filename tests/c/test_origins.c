/* targetOrigin parsing and matching, and origin serialization (pm_window_origin), checked
 * against /work/shared/API.md and the HTML / URL standards. */
#include "check.h"

typedef struct {
  int calls;
  char origin[256];
} counter;

static void count_listener(const pm_message_event *event, void *user_data) {
  counter *c = user_data;
  c->calls++;
  snprintf(c->origin, sizeof c->origin, "%s", event->origin);
}

typedef struct {
  const char *source_url;
  const char *target_url;
  const char *target_origin;
  pm_result expected;
} match_case;

/* One post between two fresh top-level windows; checks the result and that the listener ran
 * exactly when the result is PM_OK. */
static void check_match(const match_case *mc, int line) {
  pm_window *src = pm_window_new(mc->source_url);
  pm_window *dst = pm_window_new(mc->target_url);
  REQUIRE(src != NULL && dst != NULL);
  counter c = {0, ""};
  REQUIRE(pm_add_listener(dst, count_listener, &c) != 0);
  pm_result rc = pm_test_post(src, dst, "msg", mc->target_origin);
  int expected_calls = mc->expected == PM_OK ? 1 : 0;
  if (!pm_test_check(rc == mc->expected && c.calls == expected_calls, __FILE__, line,
                     "targetOrigin case")) {
    fprintf(stderr, "    %s -> %s with targetOrigin \"%s\": got %s (listener ran %d times), "
                    "expected %s; pm_last_error(): \"%s\"\n",
            mc->source_url, mc->target_url, mc->target_origin, pm_test_rc_name(rc), c.calls,
            pm_test_rc_name(mc->expected), pm_last_error());
  }
  if (rc == PM_ERR_SYNTAX) CHECK_HAS_ERROR();
  CHECK_RC(pm_window_free(src), PM_OK);
  CHECK_RC(pm_window_free(dst), PM_OK);
}

#define SRC "http://127.0.0.1/index.html"
#define DST "http://localhost/frame.html"

static void test_target_origin_cases(void) {
  static const match_case cases[] = {
      /* "*" and "/" */
      {SRC, DST, "*", PM_OK},
      {SRC, DST, "/", PM_DROPPED},                         /* "/" = source's origin; cross-origin */
      {"http://localhost/a", DST, "/", PM_OK},             /* "/" same origin */
      {"http://localhost:80/a", DST, "/", PM_OK},          /* same origin, default port spelled */
      {"https://localhost/a", DST, "/", PM_DROPPED},       /* scheme differs */
      /* exact origins and URLs (path, query, fragment, userinfo ignored) */
      {SRC, DST, "http://localhost", PM_OK},
      {SRC, DST, "http://localhost/", PM_OK},
      {SRC, DST, "http://localhost/some/path?q=1#frag", PM_OK},
      {SRC, DST, "http://user:pw@localhost/x", PM_OK},
      {SRC, DST, "http://localhost:80", PM_OK},            /* default port */
      {SRC, DST, "http://localhost:80/x?y#z", PM_OK},
      {SRC, DST, "HTTP://LOCALHOST", PM_OK},               /* scheme and host are case-insensitive */
      {SRC, DST, "http://LocalHost/Path", PM_OK},
      {SRC, DST, " http://localhost ", PM_OK},             /* URL parser trims spaces */
      {SRC, DST, "\t\nhttp://localhost\n", PM_OK},         /* ... and leading/trailing C0 controls */
      {SRC, DST, "http://local\thost", PM_OK},             /* ... and removes tabs inside */
      {SRC, DST, "blob:http://localhost/uuid", PM_OK},     /* a blob: URL's origin is its inner one */
      {SRC, DST, "https://localhost", PM_DROPPED},         /* wrong scheme */
      {SRC, DST, "ws://localhost", PM_DROPPED},
      {SRC, DST, "http://localhost:8080", PM_DROPPED},     /* wrong port */
      {SRC, DST, "http://localhost:0", PM_DROPPED},
      {SRC, DST, "http://127.0.0.1", PM_DROPPED},          /* the source's origin, not the target's */
      {SRC, DST, "http://localhost.", PM_DROPPED},         /* trailing dot is another host */
      {SRC, DST, "http://sub.localhost", PM_DROPPED},
      {"https://localhost/", "https://localhost/", "https://localhost:443/x", PM_OK},
      /* host normalization: IDN, IPv4 shorthand, IPv6 compression */
      {SRC, "http://bücher.de/", "http://xn--bcher-kva.de", PM_OK},
      {SRC, "http://xn--bcher-kva.de/", "http://BÜCHER.de/", PM_OK},
      {SRC, "http://127.0.0.1/", "http://0x7f.1", PM_OK},
      {SRC, "http://127.0.0.1/", "http://2130706433/", PM_OK},
      {SRC, "http://[::1]:8080/", "http://[0:0::1]:8080/", PM_OK},
      {SRC, "http://[::1]:8080/", "http://[::1]", PM_DROPPED},
      /* syntax errors: "*" and "/" are exact; everything else must be an absolute URL */
      {SRC, DST, " *", PM_ERR_SYNTAX},
      {SRC, DST, "* ", PM_ERR_SYNTAX},
      {SRC, DST, " /", PM_ERR_SYNTAX},
      {SRC, DST, "**", PM_ERR_SYNTAX},
      {SRC, DST, "", PM_ERR_SYNTAX},
      {SRC, DST, "null", PM_ERR_SYNTAX},
      {SRC, DST, "localhost", PM_ERR_SYNTAX},
      {SRC, DST, "//localhost", PM_ERR_SYNTAX},
      {SRC, DST, "/frame.html", PM_ERR_SYNTAX},
      {SRC, DST, "http://", PM_ERR_SYNTAX},
      {SRC, DST, "http://exa mple.com", PM_ERR_SYNTAX},
      {SRC, DST, "http://localhost:99999", PM_ERR_SYNTAX},
      /* URLs with opaque origins parse, but can never match */
      {SRC, DST, "data:,x", PM_DROPPED},
      {SRC, DST, "file:///tmp/x", PM_DROPPED},
      {SRC, DST, "about:blank", PM_DROPPED},
      {SRC, DST, "javascript:void(0)", PM_DROPPED},
      {"data:,x", "data:,x", "data:,x", PM_DROPPED},
      {"file:///tmp/x", "file:///tmp/x", "file:///tmp/x", PM_DROPPED},
      /* opaque targets: only "*" matches from another window */
      {SRC, "data:,x", "*", PM_OK},
      {SRC, "data:,x", "/", PM_DROPPED},
      {"data:,x", "data:,x", "/", PM_DROPPED},             /* two documents, two opaque origins */
      {"data:,x", SRC, "/", PM_DROPPED},                   /* opaque source, tuple target */
      {SRC, "about:blank", "*", PM_OK},
      {"about:blank", "about:blank", "/", PM_DROPPED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_match(&cases[i], __LINE__);
  printf("  %zu targetOrigin cases\n", sizeof cases / sizeof cases[0]);
}

/* Opaque origins compare by identity: a window is same-origin with itself and with an
 * about:blank child it created, never with another document that also serializes as "null". */
static void test_opaque_identity(void) {
  pm_window *a = pm_window_new("data:text/html,a");
  pm_window *b = pm_window_new("data:text/html,a");
  pm_window *f = pm_window_new("file:///home/user/page.html");
  pm_window *http = pm_window_new(SRC);
  REQUIRE(a && b && f && http);
  pm_window *a_child = pm_window_new_child(a, "about:blank");
  REQUIRE(a_child != NULL);
  pm_window *a_grandchild = pm_window_new_child(a_child, "about:blank");
  REQUIRE(a_grandchild != NULL);
  pm_window *a_data_child = pm_window_new_child(a, "data:text/html,a");
  REQUIRE(a_data_child != NULL);

  counter ca = {0, ""}, cb = {0, ""}, cchild = {0, ""}, cgrand = {0, ""}, cdata = {0, ""},
          cf = {0, ""}, chttp = {0, ""};
  REQUIRE(pm_add_listener(a, count_listener, &ca));
  REQUIRE(pm_add_listener(b, count_listener, &cb));
  REQUIRE(pm_add_listener(a_child, count_listener, &cchild));
  REQUIRE(pm_add_listener(a_grandchild, count_listener, &cgrand));
  REQUIRE(pm_add_listener(a_data_child, count_listener, &cdata));
  REQUIRE(pm_add_listener(f, count_listener, &cf));
  REQUIRE(pm_add_listener(http, count_listener, &chttp));

  CHECK_STR(pm_test_origin(a), "null");
  CHECK_STR(pm_test_origin(a_child), "null");
  CHECK_STR(pm_test_origin(f), "null");

  CHECK_RC(pm_test_post(a, a, "x", "/"), PM_OK);                 /* same opaque origin */
  CHECK(ca.calls == 1);
  CHECK_STR(ca.origin, "null");
  CHECK_RC(pm_test_post(a, a_child, "x", "/"), PM_OK);           /* about:blank inherits identity */
  CHECK(cchild.calls == 1);
  CHECK_RC(pm_test_post(a_child, a, "x", "/"), PM_OK);
  CHECK(ca.calls == 2);
  CHECK_RC(pm_test_post(a, a_grandchild, "x", "/"), PM_OK);      /* inherited twice */
  CHECK(cgrand.calls == 1);
  CHECK_RC(pm_test_post(a, a_data_child, "x", "/"), PM_DROPPED); /* a data: child is a new origin */
  CHECK(cdata.calls == 0);
  CHECK_RC(pm_test_post(b, a, "x", "/"), PM_DROPPED);            /* another "null" */
  CHECK_RC(pm_test_post(a, b, "x", "/"), PM_DROPPED);
  CHECK_RC(pm_test_post(b, a_child, "x", "/"), PM_DROPPED);
  CHECK(cb.calls == 0);
  CHECK_RC(pm_test_post(a, a, "x", "null"), PM_ERR_SYNTAX);
  CHECK_RC(pm_test_post(a, a, "x", "data:text/html,a"), PM_DROPPED);
  CHECK_RC(pm_test_post(http, a, "x", "*"), PM_OK);
  CHECK_RC(pm_test_post(http, a, "x", "/"), PM_DROPPED);
  CHECK_RC(pm_test_post(a, http, "x", "/"), PM_DROPPED);
  CHECK_RC(pm_test_post(a, http, "x", "*"), PM_OK);
  CHECK(chttp.calls == 1);
  CHECK_STR(chttp.origin, "null");                               /* opaque source serializes as "null" */
  CHECK_RC(pm_test_post(f, f, "x", "/"), PM_OK);
  CHECK_RC(pm_test_post(f, f, "x", "file:///home/user/page.html"), PM_DROPPED);
  CHECK(cf.calls == 1);
  CHECK(ca.calls == 3);

  /* An about:blank child of a tuple-origin parent has the parent's origin. */
  pm_window *h_child = pm_window_new_child(http, "about:blank");
  REQUIRE(h_child != NULL);
  CHECK_STR(pm_test_origin(h_child), "http://127.0.0.1");
  counter ch = {0, ""};
  REQUIRE(pm_add_listener(h_child, count_listener, &ch));
  CHECK_RC(pm_test_post(http, h_child, "x", "/"), PM_OK);
  CHECK_RC(pm_test_post(http, h_child, "x", "http://127.0.0.1"), PM_OK);
  CHECK(ch.calls == 2);

  /* Navigating to about:blank gives a new opaque origin (not the parent's, not the old one). */
  CHECK_RC(pm_window_navigate(a_child, "about:blank"), PM_OK);
  CHECK_STR(pm_test_origin(a_child), "null");
  counter cnav = {0, ""};
  REQUIRE(pm_add_listener(a_child, count_listener, &cnav));
  CHECK_RC(pm_test_post(a, a_child, "x", "/"), PM_DROPPED);
  CHECK_RC(pm_test_post(a_child, a_child, "x", "/"), PM_OK);   /* still same origin with itself */
  CHECK(cnav.calls == 1);
  CHECK_RC(pm_window_navigate(h_child, "about:blank"), PM_OK);
  CHECK_STR(pm_test_origin(h_child), "null");
  CHECK_RC(pm_test_post(http, h_child, "x", "/"), PM_DROPPED);
  CHECK_RC(pm_test_post(http, h_child, "x", "http://127.0.0.1"), PM_DROPPED);

  /* "matches about:blank" ignores query and fragment, and the parser lowercases the scheme;
   * any other about: URL (or another spelling of the path) is a new opaque origin. */
  static const char *const inheriting[] = {"about:blank#frag", "about:blank?q=1", "ABOUT:blank"};
  for (size_t i = 0; i < sizeof inheriting / sizeof inheriting[0]; i++) {
    pm_window *c = pm_window_new_child(http, inheriting[i]);
    REQUIRE(c != NULL);
    if (!pm_test_check(strcmp(pm_test_origin(c), "http://127.0.0.1") == 0, __FILE__, __LINE__,
                       "about:blank variant inherits the parent's origin"))
      fprintf(stderr, "    child at \"%s\" has origin \"%s\"\n", inheriting[i], pm_test_origin(c));
    CHECK_RC(pm_window_free(c), PM_OK);
  }
  static const char *const not_inheriting[] = {"about:srcdoc", "about:Blank", "about:blank/x"};
  for (size_t i = 0; i < sizeof not_inheriting / sizeof not_inheriting[0]; i++) {
    pm_window *c = pm_window_new_child(http, not_inheriting[i]);
    REQUIRE(c != NULL);
    if (!pm_test_check(strcmp(pm_test_origin(c), "null") == 0, __FILE__, __LINE__,
                       "other about: URLs get an opaque origin"))
      fprintf(stderr, "    child at \"%s\" has origin \"%s\"\n", not_inheriting[i], pm_test_origin(c));
    CHECK_RC(pm_test_post(http, c, "x", "/"), PM_DROPPED);
    CHECK_RC(pm_window_free(c), PM_OK);
  }

  /* A top-level about:blank window has its own opaque origin. */
  pm_window *blank1 = pm_window_new("about:blank");
  pm_window *blank2 = pm_window_new("about:blank");
  REQUIRE(blank1 && blank2);
  CHECK_STR(pm_test_origin(blank1), "null");
  CHECK_RC(pm_test_post(blank1, blank1, "x", "/"), PM_OK);
  CHECK_RC(pm_test_post(blank1, blank2, "x", "/"), PM_DROPPED);

  CHECK_RC(pm_window_free(a), PM_OK);
  CHECK_RC(pm_window_free(b), PM_OK);
  CHECK_RC(pm_window_free(f), PM_OK);
  CHECK_RC(pm_window_free(http), PM_OK);
  CHECK_RC(pm_window_free(blank1), PM_OK);
  CHECK_RC(pm_window_free(blank2), PM_OK);
}

/* Matching uses the target's current origin, after navigation. */
static void test_match_uses_current_origin(void) {
  pm_window *src = pm_window_new(SRC);
  pm_window *dst = pm_window_new("http://localhost/");
  REQUIRE(src && dst);
  CHECK_RC(pm_test_post(src, dst, "x", "http://localhost"), PM_OK);
  CHECK_RC(pm_window_navigate(dst, "https://example.org/next"), PM_OK);
  CHECK_STR(pm_test_origin(dst), "https://example.org");
  CHECK_RC(pm_test_post(src, dst, "x", "http://localhost"), PM_DROPPED);
  CHECK_RC(pm_test_post(src, dst, "x", "https://example.org"), PM_OK);
  CHECK_RC(pm_window_navigate(src, "https://example.org/other"), PM_OK);
  CHECK_RC(pm_test_post(src, dst, "x", "/"), PM_OK);
  pm_window_free(src);
  pm_window_free(dst);
}

typedef struct {
  const char *url;
  const char *origin;
} origin_case;

static void test_origin_serialization(void) {
  static const origin_case cases[] = {
      {"http://127.0.0.1", "http://127.0.0.1"},
      {"http://127.0.0.1/page?q#f", "http://127.0.0.1"},
      {"http://localhost:80/", "http://localhost"},
      {"http://localhost:8080/", "http://localhost:8080"},
      {"https://example.com:443/", "https://example.com"},
      {"https://example.com:80/", "https://example.com:80"},
      {"https://example.com:8443", "https://example.com:8443"},
      {"HTTP://EXAMPLE.COM/PATH", "http://example.com"},
      {"http://user:pw@example.com/", "http://example.com"},
      {"http://example.com.:80/", "http://example.com."},
      {"http://example.com:0/", "http://example.com:0"},
      {"ws://example.com:80/chat", "ws://example.com"},
      {"ftp://example.com:21/pub", "ftp://example.com"},
      {"wss://example.com:443/chat", "wss://example.com"},
      {"http://bücher.de", "http://xn--bcher-kva.de"},
      {"http://BÜCHER.de/", "http://xn--bcher-kva.de"},
      {"http://0x7f.1", "http://127.0.0.1"},
      {"http://2130706433/", "http://127.0.0.1"},
      {"http://[0:0::1]:8080", "http://[::1]:8080"},
      {"http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]"},
      {"blob:https://a.example/x", "https://a.example"},
      {"blob:http://a.example:8080/uuid", "http://a.example:8080"},
      {"blob:ftp://a.example/x", "null"},
      {"file:///etc/passwd", "null"},
      {"file://host/share/x", "null"},
      {"data:text/plain,hi", "null"},
      {"about:blank", "null"},
      {"javascript:void(0)", "null"},
      {"app://ui/index.html", "null"}, /* unknown schemes have opaque origins */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pm_window *w = pm_window_new(cases[i].url);
    if (!pm_test_check(w != NULL, __FILE__, __LINE__, "pm_window_new(url) != NULL")) {
      fprintf(stderr, "    url \"%s\": %s\n", cases[i].url, pm_last_error());
      continue;
    }
    char buf[128];
    size_t n = pm_window_origin(w, buf, sizeof buf);
    if (!pm_test_check(strcmp(buf, cases[i].origin) == 0 && n == strlen(cases[i].origin),
                       __FILE__, __LINE__, "pm_window_origin(url) == expected")) {
      fprintf(stderr, "    url \"%s\": got \"%s\" (returned %zu), expected \"%s\"\n",
              cases[i].url, buf, n, cases[i].origin);
    }
    CHECK_RC(pm_window_free(w), PM_OK);
  }
  printf("  %zu origin serialization cases\n", sizeof cases / sizeof cases[0]);
}

/* pm_window_origin works like snprintf. */
static void test_origin_buffer(void) {
  pm_window *w = pm_window_new("http://127.0.0.1/page");
  REQUIRE(w != NULL);
  const char *full = "http://127.0.0.1";
  size_t len = strlen(full); /* 16 */
  char buf[32];

  size_t caps[] = {sizeof buf, len + 1, len, 5, 2, 1};
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    size_t cap = caps[i];
    memset(buf, 'X', sizeof buf);
    size_t n = pm_window_origin(w, buf, cap);
    CHECK(n == len);                                 /* always the full length */
    size_t written = cap - 1 < len ? cap - 1 : len;
    CHECK(strncmp(buf, full, written) == 0);         /* a prefix */
    CHECK(buf[written] == '\0');                     /* NUL-terminated */
    for (size_t j = written + 1; j < sizeof buf; j++) {
      if (buf[j] != 'X') {                           /* nothing beyond the NUL */
        CHECK(buf[j] == 'X');
        break;
      }
    }
    CHECK((n >= cap) == (cap <= len));               /* truncation is detectable */
  }

  memset(buf, 'X', sizeof buf);
  CHECK(pm_window_origin(w, buf, 0) == len);         /* cap 0: nothing written */
  CHECK(buf[0] == 'X');
  CHECK(pm_window_origin(w, NULL, 0) == len);        /* length query */
  CHECK(pm_window_origin(w, NULL, 100) == len);      /* NULL buf: nothing written */

  /* opaque */
  pm_window *d = pm_window_new("data:,x");
  REQUIRE(d != NULL);
  memset(buf, 'X', sizeof buf);
  CHECK(pm_window_origin(d, buf, sizeof buf) == 4);
  CHECK_STR(buf, "null");
  CHECK(pm_window_origin(d, buf, 3) == 4);
  CHECK_STR(buf, "nu");

  /* bad handles: 0, and pm_last_error() says why */
  CHECK_RC(pm_window_free(d), PM_OK);
  memset(buf, 'X', sizeof buf);
  CHECK(pm_window_origin(d, buf, sizeof buf) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_window_origin(NULL, buf, sizeof buf) == 0);
  CHECK_HAS_ERROR();
  CHECK(pm_window_origin((const pm_window *)(uintptr_t)0x1234, buf, sizeof buf) == 0);
  CHECK_HAS_ERROR();
  CHECK_RC(pm_window_free(w), PM_OK);
}

int main(void) {
  test_target_origin_cases();
  test_opaque_identity();
  test_match_uses_current_origin();
  test_origin_serialization();
  test_origin_buffer();
  TEST_EXIT("test_origins");
}
