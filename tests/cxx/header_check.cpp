// Compiles include/postmessage.h as C++ and links against the library: if the header's
// extern "C" guards were missing, the calls below would refer to C++-mangled names and the
// link would fail. Built and run by `make test` with g++ -Wall -Wextra -Werror.
#include "postmessage.h"

#include <cstdio>
#include <cstring>

namespace {

struct Seen {
  int calls = 0;
  bool origin_ok = false;
};

void on_message(const pm_message_event *event, void *user_data) {
  Seen *seen = static_cast<Seen *>(user_data);
  seen->calls++;
  seen->origin_ok = std::strcmp(event->origin, "http://127.0.0.1") == 0;
}

}  // namespace

int main() {
  pm_window *window = pm_window_new("http://127.0.0.1/");
  if (window == nullptr) {
    std::printf("C++ header check: pm_window_new failed: %s\n", pm_last_error());
    return 1;
  }
  Seen seen;
  const uint64_t id = pm_add_listener_full(window, on_message, &seen, nullptr);
  const uint8_t data[] = {'h', 'i'};
  const pm_result rc = pm_post_message(window, window, data, sizeof data, "/");
  const bool ok = id != 0 && rc == PM_OK && seen.calls == 1 && seen.origin_ok &&
                  pm_remove_listener(window, id) == PM_OK && pm_window_free(window) == PM_OK;
  std::printf("C++ header check (postmessage %s): %s\n", pm_version(), ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
