// seed.cpp: the window.postMessage reference scenario (c-examples/seed.c) with the C++17
// wrapper include/postmessage.hpp, plus what the wrapper adds: owning move-only windows,
// std::function listeners released through the library's destroy callback, exceptions
// carrying the pm_result, and a MessageChannel.
//
// Document A (http://127.0.0.1) holds an iframe with document B (http://localhost). In JS:
//   // A
//   iframe.contentWindow.postMessage('Hello World', 'http://localhost');
//   // B
//   window.addEventListener('message', function (e) {
//     if (e.origin == 'http://127.0.0.1' && e.data == 'Hello World')
//       e.source.postMessage('Hello', e.origin);
//   });
//
// Exits non-zero if anything did not happen as expected. Built by `make test` with
//   c++ -std=c++17 -Wall -Wextra -Werror -Wpedantic -Iinclude c-examples/seed.cpp -lpostmessage
// and against an installed copy with
//   c++ -std=c++17 seed.cpp $(pkg-config --cflags --libs postmessage)
#include <postmessage.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

namespace {

int failures = 0;

void expect(bool ok, const char *what) {
  if (!ok) {
    ++failures;
    std::printf("   !! unexpected: %s\n", what);
  }
}

// State shared with the listeners through their std::function captures. The listeners hold
// shared_ptr copies: use_count() shows when the library has released them.
struct Seen {
  int iframe_messages = 0;
  int parent_messages = 0;
  std::string parent_last;
  pm_result reply = PM_ERR_INVALID_ARGUMENT;
};

}  // namespace

int main() {
  std::printf("postmessage %s (header %d.%d.%d): the reference scenario in C++\n\n",
              std::string(pm::version()).c_str(), pm::version_major, pm::version_minor,
              pm::version_patch);
  expect(pm::version() == PM_VERSION_STRING, "pm_version() should equal PM_VERSION_STRING");

  auto seen = std::make_shared<Seen>();
  try {
    pm::Window parent("http://127.0.0.1/index.html");
    pm::Window iframe = parent.create_child("http://localhost/frame.html");
    std::printf("   parent window  %-18s (top-level document A)\n", parent.origin().c_str());
    std::printf("   iframe window  %-18s (document B, a child of A)\n\n", iframe.origin().c_str());
    expect(iframe.parent() == parent, "the iframe's parent() should be the parent window");

    // Document B's listener: check who is talking, then reply through event.source().
    iframe.add_listener([seen](const pm::MessageEvent &e) {
      ++seen->iframe_messages;
      std::printf("   iframe  got \"%.*s\" from origin %s\n", static_cast<int>(e.size()),
                  e.data().data(), e.origin().data());
      if (e.origin() == "http://127.0.0.1" && e.data() == "Hello World") {
        std::printf("   iframe  replies \"Hello\" to event.source(), targetOrigin \"%s\"\n",
                    e.origin().data());
        // A listener must not throw (it is called through C): catch here.
        try {
          seen->reply = e.target().post_to(e.source(), "Hello", e.origin());
        } catch (const pm::Error &err) {
          seen->reply = err.code();
        }
      }
    });
    // Document A's listener: the event's source compares equal to the owning Window.
    pm::WindowRef expected_source = iframe;
    const pm::ListenerId parent_listener =
        parent.add_listener([seen, expected_source](const pm::MessageEvent &e) {
          ++seen->parent_messages;
          seen->parent_last = std::string(e.data());
          expect(e.source() == expected_source, "the reply's source should be the iframe");
          std::printf("   parent  got \"%s\" from origin %s\n", seen->parent_last.c_str(),
                      e.origin().data());
        });
    expect(seen.use_count() == 3, "each listener should hold its own copy of the state");

    // 1. the exchange
    std::printf("1. parent -> iframe: post_to(iframe, \"Hello World\", \"http://localhost\")\n");
    pm_result rc = parent.post_to(iframe, "Hello World", "http://localhost");
    std::printf("   => %s\n\n", pm::result_name(rc).c_str());
    expect(rc == PM_OK, "the post should return PM_OK");
    expect(seen->iframe_messages == 1, "the iframe should get one message");
    expect(seen->reply == PM_OK, "the iframe's reply should return PM_OK");
    expect(seen->parent_messages == 1 && seen->parent_last == "Hello",
           "the parent should get \"Hello\"");

    // 2. a targetOrigin that does not match: dropped silently, not an exception
    std::printf("2. wrong targetOrigin \"https://localhost\"\n");
    rc = parent.post_to(iframe, "Hello World", "https://localhost");
    std::printf("   => %s: dropped silently, the iframe's listener did not run\n\n",
                pm::result_name(rc).c_str());
    expect(rc == PM_DROPPED, "a wrong targetOrigin should return PM_DROPPED");
    expect(seen->iframe_messages == 1, "no listener should run for a dropped message");

    // 3. a malformed targetOrigin: an exception carrying PM_ERR_SYNTAX
    std::printf("3. malformed targetOrigin \"localhost\"\n");
    try {
      parent.post_to(iframe, "Hello World", "localhost");
      expect(false, "a malformed targetOrigin should throw");
    } catch (const pm::Error &err) {
      std::printf("   => pm::Error, code() %s: %s\n\n", pm::result_name(err.code()).c_str(),
                  err.what());
      expect(err.code() == PM_ERR_SYNTAX, "the exception should carry PM_ERR_SYNTAX");
    }
    try {
      pm::Window bad("not a url");
      expect(false, "a relative URL should throw");
    } catch (const pm::Error &err) {
      expect(err.code() == PM_ERR_INVALID_URL, "pm::Window(\"not a url\") should be INVALID_URL");
    }

    // 4. removing a listener releases its std::function (through the destroy callback)
    parent.remove_listener(parent_listener);
    expect(seen.use_count() == 2, "remove_listener should release the listener's captures");
    try {
      parent.remove_listener(parent_listener);
      expect(false, "removing a listener twice should throw");
    } catch (const pm::Error &err) {
      expect(err.code() == PM_ERR_INVALID_HANDLE, "a removed id should be INVALID_HANDLE");
    }

    // 5. a MessageChannel: the ports are move-only owners, closed when they go out of scope
    std::printf("4. MessageChannel: port1.post(\"ping\") reaches port2's listener\n");
    {
      auto [port1, port2] = parent.create_channel();
      std::string got;
      port2.add_listener([&got](const pm::MessageEvent &e) { got = std::string(e.data()); });
      rc = port1.post("ping");
      std::printf("   => %s, port2 got \"%s\"\n\n", pm::result_name(rc).c_str(), got.c_str());
      expect(rc == PM_OK && got == "ping", "port2 should get \"ping\"");
      pm::Port moved = std::move(port1);
      expect(!port1 && moved, "a moved-from Port should be empty");
    }

    // Windows are move-only owners: moving transfers the handle.
    pm::Window owner = std::move(parent);
    expect(!parent && owner, "a moved-from Window should be empty");
    // `owner` goes out of scope here and frees the parent, its iframe, and the iframe's
    // listener (releasing its captures); `iframe`'s own free then just reports a stale handle,
    // which its destructor ignores.
  } catch (const pm::Error &err) {
    std::printf("unexpected pm::Error (%s): %s\n", pm::result_name(err.code()).c_str(),
                err.what());
    return 1;
  }
  expect(seen.use_count() == 1, "freeing the windows should release every listener");

  if (failures == 0) {
    std::printf("OK: the exchange happened as expected.\n");
    return 0;
  }
  std::printf("FAILED: %d expectation(s) not met.\n", failures);
  return 1;
}
