// remote_seed.cpp: remote windows with the C++17 wrapper (pm::RemoteWindow, deliver,
// pm::set_broadcast_forwarder), the two "processes" simulated in one: each side's proxy sends
// its records straight to the other side's deliver, as a synchronous IPC would (see
// c-examples/remote_seed.c for the same with two real processes and a socketpair).
//
//   "process A": a (http://127.0.0.1), b_proxy (a proxy for b, a child of a)
//   "process B": a_proxy (a proxy for a), b (http://localhost, a child of a_proxy)
//
// Shows: the seed's exchange (post and reply inside one call), a targetOrigin mismatch decided on
// B's side, a forged sender origin (PM_ERR_SOURCE_ORIGIN), malformed records (every truncation
// of a real one is refused and delivers nothing), a MessagePort used both ways across, a
// broadcast record through the forwarder, and that the library releases each send function.
//
// Exits non-zero if anything did not happen as expected.
#include <postmessage.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const char *what) {
  if (!ok) {
    ++failures;
    std::printf("   !! unexpected: %s\n", what);
  }
}

constexpr const char *kUrlA = "http://127.0.0.1/index.html";
constexpr const char *kUrlB = "http://localhost/frame.html";

// What the listeners saw, and the records that went by.
struct Seen {
  int b_messages = 0;
  int a_messages = 0;
  std::string a_last;
  pm_result reply = PM_ERR_PANIC;
  std::vector<std::uint8_t> last_record_to_b;  // the last record b_proxy sent
  int sends = 0;
  std::string port_a_last;
  std::string port_b_last;
  std::vector<std::vector<std::uint8_t>> broadcast_records;
};

// A counter whose copies live inside the send functions: use_count() drops when the library
// has released them.
using Alive = std::shared_ptr<int>;

}  // namespace

int main() {
  std::printf("postmessage %s: remote windows in C++ (two processes simulated in one)\n\n",
              std::string(pm::version()).c_str());
  auto seen = std::make_shared<Seen>();
  Alive alive = std::make_shared<int>(0);
  try {
    // Filled in below: the sends need the other side's windows, which need the proxies.
    pm::WindowRef a_ref, b_ref, a_proxy_ref, b_proxy_ref;

    pm::Window a(kUrlA);
    pm::RemoteWindow b_proxy(a, kUrlB, [&, seen, alive](pm::WindowRef, pm::Bytes record) {
      seen->sends++;
      seen->last_record_to_b.assign(record.data(), record.data() + record.size());
      try {
        return b_ref.deliver(a_proxy_ref, record);  // in "process B"
      } catch (const pm::Error &e) {
        return e.code();  // a send must not throw
      }
    });
    pm::RemoteWindow a_proxy(kUrlA, [&, alive](pm::WindowRef, pm::Bytes record) {
      try {
        return a_ref.deliver(b_proxy_ref, record);  // in "process A"
      } catch (const pm::Error &e) {
        return e.code();
      }
    });
    pm::Window b = a_proxy.create_child(kUrlB);
    a_ref = a;
    b_ref = b;
    a_proxy_ref = a_proxy;
    b_proxy_ref = b_proxy;
    expect(b_proxy.parent() == a, "b_proxy's parent should be a");
    expect(b.parent() == a_proxy, "b's parent should be a_proxy");
    expect(b_proxy.origin() == "http://localhost", "b_proxy's origin");
    std::printf("   A: a %s, b_proxy %s\n", a.origin().c_str(), b_proxy.origin().c_str());
    std::printf("   B: a_proxy %s, b %s\n\n", a_proxy.origin().c_str(), b.origin().c_str());

    b.add_listener([seen](const pm::MessageEvent &e) {
      seen->b_messages++;
      if (e.origin() == "http://127.0.0.1" && e.data() == "Hello World")
        seen->reply = e.target().post_to(e.source(), "Hello", e.origin());
    });
    a.add_listener([seen](const pm::MessageEvent &e) {
      seen->a_messages++;
      seen->a_last = std::string(e.data());
      std::printf("   a got \"%s\" from %s\n", seen->a_last.c_str(), std::string(e.origin()).c_str());
    });

    // 1. The seed's exchange: the reply arrives inside the post.
    pm_result rc = a.post_to(b_proxy, "Hello World", "http://localhost");
    std::printf("1. a.post_to(b_proxy, \"Hello World\", \"http://localhost\") => %s\n",
                pm::result_name(rc).c_str());
    expect(rc == PM_OK, "the post should return PM_OK");
    expect(seen->b_messages == 1 && seen->reply == PM_OK, "b should get it and reply PM_OK");
    expect(seen->a_messages == 1 && seen->a_last == "Hello", "a should get \"Hello\" inside the post");
    const std::vector<std::uint8_t> hello_record = seen->last_record_to_b;

    // 2. The origin check happens on B's side.
    rc = a.post_to(b_proxy, "Hello World", "https://localhost");
    std::printf("2. wrong targetOrigin => %s\n", pm::result_name(rc).c_str());
    expect(rc == PM_DROPPED, "a wrong targetOrigin should return PM_DROPPED");
    expect(seen->b_messages == 1, "b's listener should not run for it");

    // 3. A malformed targetOrigin is refused here: nothing is sent.
    const int sends = seen->sends;
    try {
      a.post_to(b_proxy, "Hello World", "localhost");
      expect(false, "a malformed targetOrigin should throw");
    } catch (const pm::Error &e) {
      std::printf("3. malformed targetOrigin => %s\n", pm::result_name(e.code()).c_str());
      expect(e.code() == PM_ERR_SYNTAX, "it should be PM_ERR_SYNTAX");
    }
    expect(seen->sends == sends, "nothing should have been sent");

    // 4. A forged sender: the record claims http://127.0.0.1, the source proxy is elsewhere.
    {
      pm::RemoteWindow elsewhere("http://evil.example/", [](pm::WindowRef, pm::Bytes) { return PM_OK; });
      try {
        b.deliver(elsewhere, hello_record);
        expect(false, "a record whose origin is not its source's should throw");
      } catch (const pm::Error &e) {
        std::printf("4. record from 127.0.0.1 with source http://evil.example => %s\n",
                    pm::result_name(e.code()).c_str());
        expect(e.code() == PM_ERR_SOURCE_ORIGIN, "it should be PM_ERR_SOURCE_ORIGIN");
      }
      expect(seen->b_messages == 1, "b's listener should not run for a forged record");
    }

    // 5. Every truncation of a real record is refused, and delivers nothing.
    int refused = 0;
    for (std::size_t len = 0; len < hello_record.size(); len++) {
      try {
        b.deliver(a_proxy, pm::Bytes(hello_record.data(), len));
      } catch (const pm::Error &e) {
        if (e.code() == PM_ERR_INVALID_ARGUMENT) refused++;
      }
    }
    std::printf("5. %d of %zu truncations of a %zu-byte record refused\n", refused,
                hello_record.size(), hello_record.size());
    expect(refused == static_cast<int>(hello_record.size()), "every truncation should be refused");
    expect(seen->b_messages == 1, "no truncated record should be delivered");
    rc = b.deliver(a_proxy, hello_record);  // the whole record still works (a replay, as B sees it)
    expect(rc == PM_OK && seen->b_messages == 2, "the whole record should be delivered");

    // 6. A port across: a keeps port1, b gets port2's twin and answers on it.
    {
      auto [port1, port2] = a.create_channel();
      port1.add_listener([seen](const pm::MessageEvent &e) { seen->port_a_last = std::string(e.data()); });
      auto b_port = std::make_shared<pm_port *>(nullptr);
      b.add_listener([seen, b_port](const pm::MessageEvent &e) {
        if (e.data() != "port" || e.port_count() != 1) return;
        *b_port = e.port(0);  // owned by b
        pm::Port view = pm::Port::adopt(e.port(0));
        view.add_listener([seen, b_port](const pm::MessageEvent &pe) {
          seen->port_b_last = std::string(pe.data());
          pm::Port reply = pm::Port::adopt(*b_port);
          reply.post("pong");
          (void)reply.release();
        });
        (void)view.release();  // b's document keeps it
      });
      std::vector<pm::Port> transfer;
      transfer.push_back(std::move(port2));
      rc = a.post_to(b_proxy, "port", "http://localhost", std::move(transfer));
      expect(rc == PM_OK, "the transfer should return PM_OK");
      expect(*b_port != nullptr, "b should receive a port");
      rc = port1.post("ping");
      std::printf("6. port1.post(\"ping\") => %s; b's port got \"%s\", port1 got \"%s\"\n",
                  pm::result_name(rc).c_str(), seen->port_b_last.c_str(), seen->port_a_last.c_str());
      expect(rc == PM_OK && seen->port_b_last == "ping" && seen->port_a_last == "pong",
             "the port should work both ways");
      port1.close();  // the close crosses: b's posts are dropped from now on
      pm::Port b_view = pm::Port::adopt(*b_port);
      rc = b_view.post("late");
      (void)b_view.release();
      expect(rc == PM_DROPPED, "after the close crossed, b's post should be PM_DROPPED");
    }

    // 7. A broadcast record, through the forwarder, delivered "in the other process".
    pm::Window tab_a("http://127.0.0.1/tab-a.html");
    pm::Window tab_b("http://127.0.0.1/tab-b.html");
    pm::BroadcastChannel ch_a(tab_a, "news"), ch_b(tab_b, "news");
    int ch_b_got = 0;
    ch_b.add_listener([&ch_b_got](const pm::MessageEvent &e) {
      if (e.data() == "news") ch_b_got++;
    });
    pm::set_broadcast_forwarder([seen](pm::Bytes record) {
      seen->broadcast_records.emplace_back(record.data(), record.data() + record.size());
      return PM_OK;
    });
    ch_a.post("news");
    pm::set_broadcast_forwarder(nullptr);
    expect(seen->broadcast_records.size() == 1, "the forwarder should get one record");
    expect(ch_b_got == 1, "the local channel gets it once directly");
    if (seen->broadcast_records.size() == 1) {
      rc = pm::remote_deliver(pm::WindowRef(), a_proxy, seen->broadcast_records[0]);  // source: 127.0.0.1
      std::printf("7. broadcast record delivered => %s, channel got it %d time(s)\n",
                  pm::result_name(rc).c_str(), ch_b_got);
      expect(rc == PM_OK && ch_b_got == 2, "delivering the record reaches the channel again");
      try {
        pm::remote_deliver(pm::WindowRef(), b_proxy, seen->broadcast_records[0]);
        expect(false, "a broadcast record from 127.0.0.1 with a localhost source should throw");
      } catch (const pm::Error &e) {
        expect(e.code() == PM_ERR_SOURCE_ORIGIN, "it should be PM_ERR_SOURCE_ORIGIN");
      }
    }

    // 8. A proxy runs no script here.
    try {
      b_proxy.add_listener([](const pm::MessageEvent &) {});
      expect(false, "adding a listener to a proxy should throw");
    } catch (const pm::Error &e) {
      expect(e.code() == PM_ERR_INVALID_ARGUMENT, "it should be PM_ERR_INVALID_ARGUMENT");
    }
  } catch (const pm::Error &e) {
    std::printf("   !! pm::Error: %s\n", e.what());
    ++failures;
  }
  // Every window is gone: the library has released both send functions.
  expect(alive.use_count() == 1, "the send functions should have been released");

  if (failures == 0) {
    std::printf("\nOK: remote windows behaved as expected.\n");
    return 0;
  }
  std::printf("\nFAILED: %d expectation(s) not met.\n", failures);
  return 1;
}
