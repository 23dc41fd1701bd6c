// wrapper.cpp: exercises the C++17 wrapper postmessage.hpp beyond c-examples/seed.cpp (ports
// and transfer, BroadcastChannel, allow-lists, QUEUED mode, navigation releasing listeners,
// exceptions and their codes, stale handles). tests/install/run.sh builds it against the
// installed copy with -std=c++17 -Wall -Wextra -Wpedantic -Werror and runs it (also under
// valgrind). Exits non-zero on the first failed check.
#include <postmessage.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#define CHECK(x)                                                 \
  do {                                                           \
    if (!(x)) {                                                  \
      std::printf("wrapper.cpp:%d: FAILED: %s\n", __LINE__, #x); \
      return 1;                                                  \
    }                                                            \
  } while (0)

// Runs `body`, which must throw a pm::Error whose code() is `expected`.
#define CHECK_THROWS(expected, body)                                           \
  do {                                                                     \
    bool thrown_ = false;                                                  \
    try {                                                                  \
      body;                                                                \
    } catch (const pm::Error &e) {                                         \
      thrown_ = true;                                                      \
      if (e.code() != (expected)) {                                        \
        std::printf("wrapper.cpp:%d: FAILED: %s threw %s, expected %s\n", \
                    __LINE__, #body, pm::result_name(e.code()).c_str(),    \
                    #expected);                                            \
        return 1;                                                          \
      }                                                                    \
    }                                                                      \
    CHECK(thrown_);                                                        \
  } while (0)

namespace {
int wakes = 0;
void on_wake(pm_window *, void *) { ++wakes; }
}  // namespace

int main() {
  pm::Window a("https://a.example/");
  pm::Window b("https://b.example/");
  // transfer a port
  auto [p1, p2] = a.create_channel();
  std::string got_port;
  pm::Port received;
  b.add_listener([&](const pm::MessageEvent &e) {
    if (e.port_count() == 1) received = pm::Port::adopt(e.port(0));
  });
  std::vector<pm::Port> xfer;
  xfer.push_back(std::move(p2));
  CHECK(a.post_to(b, "take", "https://b.example", std::move(xfer)) == PM_OK);
  CHECK(!xfer[0]);
  CHECK(received);
  received.add_listener([&](const pm::MessageEvent &e) { got_port = std::string(e.data()); });
  CHECK(p1.post("via port") == PM_OK);
  CHECK(got_port == "via port");
  // bad transfer: p1 itself -> DATA_CLONE, untouched
  std::vector<pm::Port> self;
  self.push_back(std::move(p1));
  CHECK_THROWS(PM_ERR_DATA_CLONE, self[0].post("x", std::move(self)));
  CHECK(self[0]);
  // broadcast
  pm::Window a2("https://a.example/other");
  pm::BroadcastChannel c1(a, "chan"), c2(a2, "chan");
  std::string got_bc;
  std::string bc_origin;
  c2.add_listener([&](const pm::MessageEvent &e) {
    got_bc = std::string(e.data());
    bc_origin = std::string(e.origin());
  });
  CHECK(c1.post("bc") == PM_OK);
  CHECK(got_bc == "bc" && bc_origin == "https://a.example");
  // allow-list
  int filtered = 0;
  a.add_listener_for_origins({"https://b.example"}, [&](const pm::MessageEvent &) { ++filtered; });
  b.post_to(a, "x", "*");
  a2.post_to(a, "x", "*");
  CHECK(filtered == 1);
  CHECK_THROWS(PM_ERR_INVALID_ARGUMENT,
               a.add_listener_for_origins({}, [](const pm::MessageEvent &) {}));
  // queued
  a.set_dispatch_mode(PM_DISPATCH_QUEUED);
  a.set_waker(&on_wake, nullptr);
  int q = 0;
  a.add_listener([&](const pm::MessageEvent &) { ++q; });
  b.post_to(a, "q1", "https://a.example");
  b.post_to(a, std::string("q2"), std::string("https://a.example"));
  CHECK(a.pending() == 2 && wakes == 1 && q == 0);
  CHECK(a.run_pending() == 2 && q == 2);
  CHECK_THROWS(PM_ERR_INVALID_ARGUMENT, a.set_dispatch_mode(static_cast<pm_dispatch_mode>(7)));
  // navigate releases listeners
  auto token = std::make_shared<int>(1);
  b.add_listener([token](const pm::MessageEvent &) {});
  CHECK(token.use_count() == 2);
  b.navigate("https://c.example/");
  CHECK(token.use_count() == 1);
  CHECK(b.origin() == "https://c.example");
  // opaque origin, long origin
  pm::Window d("data:,x");
  CHECK(d.origin() == "null");
  std::string longhost(200, 'h');
  pm::Window l("https://" + longhost + ".example/");
  CHECK(l.origin() == "https://" + longhost + ".example");
  // string_view target origin
  std::string_view sv = "https://c.example/path";
  CHECK(a.post_to(b, "x", sv.substr(0, 17)) == PM_OK);
  // error in free function post_message
  CHECK_THROWS(PM_ERR_SYNTAX, pm::post_message(a, b, "x", "bad"));
  // stale handle
  pm::WindowRef stale;
  {
    pm::Window t("https://t.example/");
    stale = t;
  }
  CHECK_THROWS(PM_ERR_INVALID_HANDLE, stale.origin());
  CHECK_THROWS(PM_ERR_INVALID_HANDLE, stale.post_to(stale, "x", "*"));
  CHECK(!stale.parent());
  // empty std::function
  CHECK_THROWS(PM_ERR_NULL_ARGUMENT, a.add_listener(pm::Listener{}));
  CHECK_THROWS(PM_ERR_INVALID_URL, pm::Window("relative/url"));
  CHECK_THROWS(PM_ERR_INVALID_URL, a.create_child("::"));
  CHECK_THROWS(PM_ERR_INVALID_HANDLE, a.remove_listener(999999));
  pm::register_standard_scheme("app");
  pm::Window app("app://UI:8080/x");
  CHECK(app.origin() == "app://ui:8080");
  // A targetOrigin without its scheme: "localhost:8080" is scheme "localhost:" (opaque), so the
  // post is dropped as the standard says, and pm_last_error() says what was probably meant;
  // "127.0.0.1:8080" does not parse, and the exception's text gives the same advice.
  {
    pm::Window page("http://127.0.0.1/");
    pm::Window frame = page.create_child("http://localhost:8080/");
    CHECK(page.post_to(frame, "x", "localhost:8080") == PM_DROPPED);
    CHECK(std::string(pm_last_error()).find("did you mean \"http://localhost:8080\"?") != std::string::npos);
    CHECK_THROWS(PM_ERR_SYNTAX, page.post_to(frame, "x", "127.0.0.1:8080"));
    bool advised = false;
    try {
      page.post_to(frame, "x", "127.0.0.1:8080");
    } catch (const pm::Error &e) {
      advised = std::string(e.what()).find("did you mean \"http://127.0.0.1:8080\"?") != std::string::npos;
    }
    CHECK(advised);
  }
  std::printf("postmessage.hpp wrapper checks: OK\n");
  return 0;
}
