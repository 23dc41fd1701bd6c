/* postmessage.hpp: a header-only C++17 wrapper over the postmessage C API (postmessage.h).
 *
 *   pm::Window parent("http://127.0.0.1/index.html");          // owns the window (move-only)
 *   pm::Window iframe = parent.create_child("http://localhost/frame.html");
 *   iframe.add_listener([](const pm::MessageEvent &e) {         // any callable
 *     if (e.origin() == "http://127.0.0.1" && e.data() == "Hello World")
 *       e.target().post_to(e.source(), "Hello", e.origin());    // e.source.postMessage('Hello', e.origin)
 *   });
 *   parent.post_to(iframe, "Hello World", "http://localhost");  // PM_OK, or PM_DROPPED
 *
 * - Ownership. pm::Window, pm::Port and pm::BroadcastChannel own their handle and free / close
 *   it when destroyed; they are move-only. pm::WindowRef is a non-owning, copyable window handle
 *   (what an event's source() and target() are); a Window is a WindowRef, so the two compare with
 *   == by handle. A handle freed elsewhere (e.g. a child freed with its parent) is harmless: the
 *   library rejects it, and destructors ignore that.
 * - Listeners are std::function<void(const pm::MessageEvent &)>. The library keeps a heap copy
 *   and releases it through the C API's destroy callback, exactly once, when the listener is
 *   removed (remove_listener, navigation, or the window / port / channel going away) and no call
 *   of it is running any more. A listener must not throw: it is called through C, so an
 *   exception escaping it calls std::terminate.
 * - Errors are exceptions: pm::Error (a std::runtime_error) carrying the pm_result code() and
 *   pm_last_error()'s text. Posting returns PM_OK or PM_DROPPED (a targetOrigin mismatch is
 *   not an error, as in the HTML standard).
 * - Everything is as thread-safe as the C API (any function, any thread); the wrapper objects
 *   themselves are plain values, not synchronized.
 * - MessageEvent and everything it returns are valid only during the listener call.
 * - Remote windows (another process's documents): pm::RemoteWindow owns a proxy and its send
 *   function, a std::function<pm_result(pm::WindowRef proxy, pm::Bytes record)>; the receiving
 *   process calls target.deliver(source, record) (or pm::remote_deliver); broadcasts cross
 *   through pm::set_broadcast_forwarder. See README "Multiple processes".
 *
 * Link like the C library (pkg-config postmessage, or CMake's postmessage::postmessage).
 */
#ifndef POSTMESSAGE_HPP
#define POSTMESSAGE_HPP

#include "postmessage.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if !((defined(_MSVC_LANG) && _MSVC_LANG >= 201703L) || __cplusplus >= 201703L)
#error "postmessage.hpp needs C++17 or newer"
#endif

namespace pm {

class WindowRef;
class Window;
class Port;
class MessageEvent;
struct MessageChannel;

/// A listener's id (> 0), as returned by the add_listener functions.
using ListenerId = std::uint64_t;

/// A message listener.
using Listener = std::function<void(const MessageEvent &)>;

/// The version of the library loaded at run time ("0.1.0").
inline std::string_view version() noexcept { return pm_version(); }

/// The version of this header.
inline constexpr int version_major = PM_VERSION_MAJOR;
inline constexpr int version_minor = PM_VERSION_MINOR;
inline constexpr int version_patch = PM_VERSION_PATCH;

/// The enumerator's name ("PM_ERR_SYNTAX"), or "pm_result(N)" for an unknown value.
inline std::string result_name(pm_result code) {
  switch (code) {
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
  }
  return "pm_result(" + std::to_string(static_cast<int>(code)) + ")";
}

/// Every failure of the wrapper: the C function's pm_result and pm_last_error()'s text.
class Error : public std::runtime_error {
 public:
  Error(pm_result code, const std::string &what) : std::runtime_error(what), code_(code) {}
  /// The pm_result the C function returned (or, for one that returns NULL / 0, reported).
  pm_result code() const noexcept { return code_; }

 private:
  pm_result code_;
};

/// A NUL-terminated string argument: a C string or std::string is passed as is; a
/// std::string_view is copied (it need not be NUL-terminated).
class CString {
 public:
  CString(const char *s) noexcept : ptr_(s) {}                 // NOLINT: implicit on purpose
  CString(const std::string &s) noexcept : ptr_(s.c_str()) {}  // NOLINT
  CString(std::string_view s) : copy_(s), ptr_(copy_.c_str()) {}  // NOLINT
  CString(const CString &) = delete;
  CString &operator=(const CString &) = delete;
  const char *c_str() const noexcept { return ptr_; }

 private:
  std::string copy_;
  const char *ptr_;
};

/// Message data: bytes, from a string, a byte vector or a pointer and a length.
class Bytes {
 public:
  Bytes(const void *data, std::size_t size) noexcept
      : data_(static_cast<const std::uint8_t *>(data)), size_(size) {}
  Bytes(const char *s) noexcept : Bytes(s, s ? std::strlen(s) : 0) {}     // NOLINT
  Bytes(std::string_view s) noexcept : Bytes(s.data(), s.size()) {}       // NOLINT
  Bytes(const std::string &s) noexcept : Bytes(s.data(), s.size()) {}     // NOLINT
  Bytes(const std::vector<std::uint8_t> &v) noexcept : Bytes(v.data(), v.size()) {}  // NOLINT
  const std::uint8_t *data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  const std::uint8_t *data_;
  std::size_t size_;
};

namespace detail {

[[noreturn]] inline void throw_error(pm_result code, const char *function) {
  throw Error(code, std::string(function) + ": " + result_name(code) + ": " + pm_last_error());
}

/// For a function that returns a pm_result: PM_OK and PM_DROPPED are results, the rest throw.
inline pm_result check(pm_result rc, const char *function) {
  if (rc != PM_OK && rc != PM_DROPPED) throw_error(rc, function);
  return rc;
}

/// For a function that returned NULL or 0: throws what this thread's last failure was.
[[noreturn]] inline void throw_last(const char *function) {
  pm_result code = pm_last_error_code();
  if (code == PM_OK || code == PM_DROPPED) code = PM_ERR_INVALID_ARGUMENT;
  throw_error(code, function);
}

inline void call_listener(const pm_message_event *event, void *user_data) noexcept;

inline void destroy_listener(void *user_data) noexcept {
  delete static_cast<Listener *>(user_data);
}

/// Adds `fn` through `add(callback, user_data, destroy)`; the library owns the heap copy from
/// then on and deletes it through destroy_listener. When adding fails, destroy is not called,
/// so the copy is deleted here.
template <typename Add>
ListenerId add_listener(Listener fn, Add &&add, const char *function) {
  if (!fn) throw Error(PM_ERR_NULL_ARGUMENT, std::string(function) + ": empty std::function");
  auto owned = std::make_unique<Listener>(std::move(fn));
  const ListenerId id = add(&call_listener, static_cast<void *>(owned.get()), &destroy_listener);
  if (id == 0) throw_last(function);
  (void)owned.release();  // now owned by the library
  return id;
}

inline pm_result post_transfer(pm_window *source, pm_window *target, Bytes data,
                               const char *target_origin, std::vector<Port> &transfer);
inline pm_result port_post(pm_port *port, Bytes data, std::vector<Port> &transfer);

}  // namespace detail

/// A non-owning window handle (a WindowProxy): what an event's source() and target() are, and
/// the base of the owning pm::Window. Copyable; compares by handle. Its member functions throw
/// pm::Error for a freed or unknown window.
class WindowRef {
 public:
  constexpr WindowRef() noexcept = default;
  constexpr WindowRef(pm_window *handle) noexcept : handle_(handle) {}  // NOLINT: implicit

  /// The C handle (NULL for an empty WindowRef).
  constexpr pm_window *handle() const noexcept { return handle_; }
  constexpr explicit operator bool() const noexcept { return handle_ != nullptr; }
  friend constexpr bool operator==(WindowRef a, WindowRef b) noexcept {
    return a.handle_ == b.handle_;
  }
  friend constexpr bool operator!=(WindowRef a, WindowRef b) noexcept {
    return a.handle_ != b.handle_;
  }

  /// The current origin, ASCII-serialized ("http://127.0.0.1", "null" when opaque).
  std::string origin() const {
    std::string out(64, '\0');
    for (;;) {  // again with a bigger buffer if it was too small (or the window navigated)
      const std::size_t len = pm_window_origin(handle_, out.data(), out.size());
      if (len == 0) detail::throw_last("pm_window_origin");
      if (len < out.size()) {
        out.resize(len);
        return out;
      }
      out.assign(len + 1, '\0');
    }
  }

  /// The parent window; an empty WindowRef for a top-level window (or a bad handle).
  WindowRef parent() const noexcept { return pm_window_parent(handle_); }

  /// Creates an iframe in this window's current document; the returned Window owns it (it is
  /// also freed with this window, or when this window navigates).
  Window create_child(const CString &url) const;

  /// Gives the window a new document at `url` (its listeners, children, ports and broadcast
  /// channels are gone; the handle stays valid).
  void navigate(const CString &url) const {
    detail::check(pm_window_navigate(handle_, url.c_str()), "pm_window_navigate");
  }

  /// Adds a message listener to the window's current document.
  ListenerId add_listener(Listener fn) const {
    pm_window *w = handle_;
    return detail::add_listener(
        std::move(fn),
        [w](pm_listener_fn cb, void *ud, pm_destroy_fn d) {
          return pm_add_listener_full(w, cb, ud, d);
        },
        "pm_add_listener_full");
  }

  /// Adds a listener that only sees window messages whose source origin is in `origins`.
  ListenerId add_listener_for_origins(const std::vector<std::string> &origins,
                                      Listener fn) const {
    std::vector<const char *> raw;
    raw.reserve(origins.size());
    for (const std::string &o : origins) raw.push_back(o.c_str());
    pm_window *w = handle_;
    return detail::add_listener(
        std::move(fn),
        [w, &raw](pm_listener_fn cb, void *ud, pm_destroy_fn d) {
          return pm_add_listener_for_origins(w, raw.data(), raw.size(), cb, ud, d);
        },
        "pm_add_listener_for_origins");
  }

  /// Removes a listener (its std::function is released as described at the top).
  void remove_listener(ListenerId id) const {
    detail::check(pm_remove_listener(handle_, id), "pm_remove_listener");
  }

  /// This window posts `data` to `target`: target.postMessage(data, target_origin).
  /// Returns PM_OK (delivered, or queued in QUEUED mode) or PM_DROPPED (the targetOrigin did
  /// not match); throws pm::Error otherwise (PM_ERR_SYNTAX for a malformed targetOrigin...).
  pm_result post_to(WindowRef target, Bytes data, const CString &target_origin) const {
    return detail::check(pm_post_message(handle_, target.handle_, data.data(), data.size(),
                                         target_origin.c_str()),
                         "pm_post_message");
  }

  /// post_to with a transfer list: on PM_OK or PM_DROPPED the ports are consumed (the Port
  /// objects become empty); when it throws, they are untouched.
  pm_result post_to(WindowRef target, Bytes data, const CString &target_origin,
                    std::vector<Port> &&transfer) const {
    return detail::post_transfer(handle_, target.handle_, data, target_origin.c_str(), transfer);
  }

  /// The same as post_to (this window is the source, as in pm_post_message's argument order).
  pm_result post_message(WindowRef target, Bytes data, const CString &target_origin) const {
    return post_to(target, data, target_origin);
  }
  pm_result post_message(WindowRef target, Bytes data, const CString &target_origin,
                         std::vector<Port> &&transfer) const {
    return post_to(target, data, target_origin, std::move(transfer));
  }

  /// Creates a MessageChannel owned by this window's current document:
  /// `auto [port1, port2] = window.create_channel();`
  MessageChannel create_channel() const;

  /// Delivery mode (PM_DISPATCH_SYNC, the default, or PM_DISPATCH_QUEUED).
  void set_dispatch_mode(pm_dispatch_mode mode) const {
    detail::check(pm_window_set_dispatch_mode(handle_, mode), "pm_window_set_dispatch_mode");
  }
  /// The waker of a QUEUED window (a plain C callback: it has no destroy function, so
  /// `user_data` must outlive the window or the next set_waker call).
  void set_waker(pm_wake_fn wake, void *user_data) const {
    detail::check(pm_window_set_waker(handle_, wake, user_data), "pm_window_set_waker");
  }
  /// Delivers up to `max` queued messages on this thread; returns how many were taken.
  std::size_t run_pending(std::size_t max = static_cast<std::size_t>(-1)) const noexcept {
    return pm_window_run_pending(handle_, max);
  }
  /// Messages waiting in the window's queue.
  std::size_t pending() const noexcept { return pm_window_pending(handle_); }
  /// Queue limits (0 means no limit).
  void set_queue_limit(std::size_t max_messages, std::size_t max_bytes) const {
    detail::check(pm_window_set_queue_limit(handle_, max_messages, max_bytes),
                  "pm_window_set_queue_limit");
  }

  /// Delivers a record that another process's proxy sent (pm_remote_deliver) to this local
  /// window. `source` is this process's proxy for the sender (its origin is the lock: a record
  /// claiming another origin throws pm::Error PM_ERR_SOURCE_ORIGIN), or an empty WindowRef for
  /// a peer the embedder vouches for. Returns PM_OK or PM_DROPPED (the targetOrigin did not match
  /// this window's current origin, or the port of a port record is closed); throws pm::Error for
  /// a malformed record (PM_ERR_INVALID_ARGUMENT: nothing was delivered) and the other errors.
  /// Port and broadcast records may come here too (the window is then ignored).
  pm_result deliver(WindowRef source, Bytes record) const {
    return detail::check(pm_remote_deliver(handle_, source.handle_, record.data(), record.size()),
                         "pm_remote_deliver");
  }

 protected:
  pm_window *handle_ = nullptr;
};

/// An owning window: freed (with its children and listeners) when destroyed. Move-only.
class Window : public WindowRef {
 public:
  /// An empty Window (owns nothing).
  Window() noexcept = default;

  /// Creates a top-level window whose document is at `url` (an absolute URL).
  explicit Window(const CString &url) : WindowRef(pm_window_new(url.c_str())) {
    if (handle_ == nullptr) detail::throw_last("pm_window_new");
  }

  /// Takes ownership of a C handle.
  static Window adopt(pm_window *handle) noexcept {
    Window w;
    w.handle_ = handle;
    return w;
  }

  Window(Window &&other) noexcept : WindowRef(std::exchange(other.handle_, nullptr)) {}
  Window &operator=(Window &&other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Window(const Window &) = delete;
  Window &operator=(const Window &) = delete;
  ~Window() { reset(); }

  /// A non-owning copy of the handle.
  WindowRef ref() const noexcept { return *this; }

  /// Gives up ownership (the window stays alive) and returns the handle.
  pm_window *release() noexcept { return std::exchange(handle_, nullptr); }

  /// Frees the window now (a no-op when empty or already freed, e.g. with its parent).
  void reset() noexcept {
    if (handle_ != nullptr) (void)pm_window_free(std::exchange(handle_, nullptr));
  }
};

/// An owning MessagePort: closed when destroyed. Move-only.
class Port {
 public:
  Port() noexcept = default;
  /// Takes ownership of a C handle (e.g. one of MessageEvent::port()).
  static Port adopt(pm_port *handle) noexcept {
    Port p;
    p.handle_ = handle;
    return p;
  }
  Port(Port &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Port &operator=(Port &&other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Port(const Port &) = delete;
  Port &operator=(const Port &) = delete;
  ~Port() { reset(); }

  pm_port *handle() const noexcept { return handle_; }
  explicit operator bool() const noexcept { return handle_ != nullptr; }
  pm_port *release() noexcept { return std::exchange(handle_, nullptr); }
  /// Closes the port now, ignoring errors (a no-op when empty).
  void reset() noexcept {
    if (handle_ != nullptr) (void)pm_port_close(std::exchange(handle_, nullptr));
  }
  /// Closes the port now; throws if it was already closed, transferred or unknown.
  void close() {
    detail::check(pm_port_close(std::exchange(handle_, nullptr)), "pm_port_close");
  }

  /// Posts to the entangled port. Returns PM_OK or PM_DROPPED (the partner is closed).
  pm_result post(Bytes data) const {
    return detail::check(pm_port_post_message(handle_, data.data(), data.size(), nullptr, 0),
                         "pm_port_post_message");
  }
  /// post with a transfer list (consumed on PM_OK / PM_DROPPED, untouched when it throws).
  pm_result post(Bytes data, std::vector<Port> &&transfer) const {
    return detail::port_post(handle_, data, transfer);
  }

  /// Adds a listener; the first one starts the port.
  ListenerId add_listener(Listener fn) const {
    pm_port *p = handle_;
    return detail::add_listener(
        std::move(fn),
        [p](pm_listener_fn cb, void *ud, pm_destroy_fn d) {
          return pm_port_add_listener_full(p, cb, ud, d);
        },
        "pm_port_add_listener_full");
  }
  void remove_listener(ListenerId id) const {
    detail::check(pm_port_remove_listener(handle_, id), "pm_port_remove_listener");
  }

 private:
  pm_port *handle_ = nullptr;
};

/// The two entangled ports of a MessageChannel: `auto [port1, port2] = window.create_channel();`
struct MessageChannel {
  Port port1;
  Port port2;
};

inline MessageChannel WindowRef::create_channel() const {
  pm_port *p1 = nullptr;
  pm_port *p2 = nullptr;
  detail::check(pm_channel_new(handle_, &p1, &p2), "pm_channel_new");
  return MessageChannel{Port::adopt(p1), Port::adopt(p2)};
}

inline Window WindowRef::create_child(const CString &url) const {
  pm_window *child = pm_window_new_child(handle_, url.c_str());
  if (child == nullptr) detail::throw_last("pm_window_new_child");
  return Window::adopt(child);
}

/// source.postMessage-style free function, in the C API's argument order.
inline pm_result post_message(WindowRef source, WindowRef target, Bytes data,
                              const CString &target_origin) {
  return source.post_to(target, data, target_origin);
}

/// An owning BroadcastChannel: closed when destroyed. Move-only.
class BroadcastChannel {
 public:
  BroadcastChannel() noexcept = default;
  /// Opens the channel `name` in `window`'s current document.
  BroadcastChannel(WindowRef window, const CString &name)
      : handle_(pm_broadcast_new(window.handle(), name.c_str())) {
    if (handle_ == nullptr) detail::throw_last("pm_broadcast_new");
  }
  BroadcastChannel(BroadcastChannel &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  BroadcastChannel &operator=(BroadcastChannel &&other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  BroadcastChannel(const BroadcastChannel &) = delete;
  BroadcastChannel &operator=(const BroadcastChannel &) = delete;
  ~BroadcastChannel() { reset(); }

  pm_broadcast *handle() const noexcept { return handle_; }
  explicit operator bool() const noexcept { return handle_ != nullptr; }
  pm_broadcast *release() noexcept { return std::exchange(handle_, nullptr); }
  void reset() noexcept {
    if (handle_ != nullptr) (void)pm_broadcast_close(std::exchange(handle_, nullptr));
  }
  void close() {
    detail::check(pm_broadcast_close(std::exchange(handle_, nullptr)), "pm_broadcast_close");
  }

  /// Posts to every other open channel of this name in a same-origin window.
  pm_result post(Bytes data) const {
    return detail::check(pm_broadcast_post_message(handle_, data.data(), data.size()),
                         "pm_broadcast_post_message");
  }
  ListenerId add_listener(Listener fn) const {
    pm_broadcast *b = handle_;
    return detail::add_listener(
        std::move(fn),
        [b](pm_listener_fn cb, void *ud, pm_destroy_fn d) {
          return pm_broadcast_add_listener_full(b, cb, ud, d);
        },
        "pm_broadcast_add_listener_full");
  }
  void remove_listener(ListenerId id) const {
    detail::check(pm_broadcast_remove_listener(handle_, id), "pm_broadcast_remove_listener");
  }

 private:
  pm_broadcast *handle_ = nullptr;
};

/// A proxy's send function: hands `record` (valid only during the call: copy it) to the IPC that
/// reaches the process holding the document, on the posting thread, with no library lock held.
/// Its result is the post's: a synchronous IPC returns what the other side's deliver returned
/// (PM_OK once the remote listeners ran, PM_DROPPED), a fire-and-forget one PM_OK. It may call
/// the library, e.g. deliver records that arrive while it waits. It must not throw (it is called
/// through C: an exception escaping it calls std::terminate); return an error code instead.
using RemoteSend = std::function<pm_result(WindowRef proxy, Bytes record)>;

/// The broadcast forwarder: hands a BroadcastChannel record to the other processes.
using BroadcastForwarder = std::function<pm_result(Bytes record)>;

namespace detail {

inline pm_result call_send(pm_window *proxy, const std::uint8_t *record, std::size_t len,
                           void *user_data) noexcept {
  return (*static_cast<RemoteSend *>(user_data))(WindowRef(proxy), Bytes(record, len));
}

inline void destroy_send(void *user_data) noexcept { delete static_cast<RemoteSend *>(user_data); }

inline pm_result call_forwarder(const std::uint8_t *record, std::size_t len,
                                void *user_data) noexcept {
  return (*static_cast<BroadcastForwarder *>(user_data))(Bytes(record, len));
}

}  // namespace detail

/// An owning proxy window for a document that lives in another process (pm_remote_window_new):
/// it sits in the frame tree like any window, runs no script here (adding listeners, channels or
/// a dispatch mode to it throws PM_ERR_INVALID_ARGUMENT), and turns posts to it into records
/// for `send`. Freed (with its children) when destroyed, like pm::Window; the library releases
/// the send function after the last call of it has returned. Move-only.
class RemoteWindow : public Window {
 public:
  /// An empty RemoteWindow (owns nothing).
  RemoteWindow() noexcept = default;

  /// A top-level proxy for the remote document at `url`.
  RemoteWindow(const CString &url, RemoteSend send) : RemoteWindow(WindowRef(), url, std::move(send)) {}

  /// A proxy inside `parent` (a local window or another proxy; empty for a top-level one),
  /// freed with it.
  RemoteWindow(WindowRef parent, const CString &url, RemoteSend send) {
    if (!send) throw Error(PM_ERR_NULL_ARGUMENT, "pm_remote_window_new: empty std::function");
    auto owned = std::make_unique<RemoteSend>(std::move(send));
    handle_ = pm_remote_window_new(parent.handle(), url.c_str(), &detail::call_send,
                                   static_cast<void *>(owned.get()), &detail::destroy_send);
    if (handle_ == nullptr) detail::throw_last("pm_remote_window_new");  // destroy not called
    (void)owned.release();  // now owned by the library
  }
};

/// Delivers a record from another process (pm_remote_deliver): `target` is the local window
/// for window records (ignored, and may be empty, for port and broadcast records), `source`
/// the proxy for the sender (the origin lock) or empty. Returns PM_OK or PM_DROPPED; throws
/// pm::Error otherwise (PM_ERR_INVALID_ARGUMENT for a malformed record, PM_ERR_SOURCE_ORIGIN...).
inline pm_result remote_deliver(WindowRef target, WindowRef source, Bytes record) {
  return detail::check(pm_remote_deliver(target.handle(), source.handle(), record.data(), record.size()),
                       "pm_remote_deliver");
}

/// Sets the process-wide broadcast forwarder (pm_set_broadcast_forwarder): every broadcast post
/// is also encoded and passed to `forward` on the posting thread; an empty function removes it.
/// The C API has no destroy callback for it and a call may still be running on another thread
/// when it is replaced, so every forwarder set stays allocated until the program exits.
inline void set_broadcast_forwarder(BroadcastForwarder forward) {
  static std::mutex lock;
  static std::vector<std::unique_ptr<BroadcastForwarder>> kept;
  std::lock_guard<std::mutex> guard(lock);
  if (!forward) {
    detail::check(pm_set_broadcast_forwarder(nullptr, nullptr), "pm_set_broadcast_forwarder");
    return;
  }
  kept.push_back(std::make_unique<BroadcastForwarder>(std::move(forward)));
  const pm_result rc = pm_set_broadcast_forwarder(&detail::call_forwarder, kept.back().get());
  if (rc != PM_OK) {
    kept.pop_back();
    detail::throw_error(rc, "pm_set_broadcast_forwarder");
  }
}

/// A `message` event, as a listener receives it: a view valid only during the call.
class MessageEvent {
 public:
  explicit MessageEvent(const pm_message_event &raw) noexcept : raw_(&raw) {}

  /// The message bytes as characters (binary-safe; not NUL-terminated).
  std::string_view data() const noexcept {
    return std::string_view(reinterpret_cast<const char *>(raw_->data), raw_->data_len);
  }
  const std::uint8_t *bytes() const noexcept { return raw_->data; }
  std::size_t size() const noexcept { return raw_->data_len; }

  /// The source's serialized origin ("" for port messages). NUL-terminated: origin().data()
  /// is a C string.
  std::string_view origin() const noexcept { return raw_->origin; }
  /// The posting window (reply with e.target().post_to(e.source(), ...)); empty for port
  /// messages or when the source is gone.
  WindowRef source() const noexcept { return raw_->source; }
  /// The window whose listener this is; empty for port and broadcast messages.
  WindowRef target() const noexcept { return raw_->target; }

  /// The ports transferred with this message (owned by the receiving window; adopt one with
  /// pm::Port::adopt(e.port(i)) to close it with a Port object).
  std::size_t port_count() const noexcept { return raw_->ports_len; }
  pm_port *port(std::size_t i) const noexcept {
    return i < raw_->ports_len ? raw_->ports[i] : nullptr;
  }

  /// The C event.
  const pm_message_event &raw() const noexcept { return *raw_; }

 private:
  const pm_message_event *raw_;
};

/// Registers a custom standard scheme (see pm_register_standard_scheme).
inline void register_standard_scheme(const CString &scheme) {
  detail::check(pm_register_standard_scheme(scheme.c_str()), "pm_register_standard_scheme");
}

namespace detail {

inline void call_listener(const pm_message_event *event, void *user_data) noexcept {
  // noexcept: an exception escaping a listener must not unwind through C; it terminates.
  (*static_cast<Listener *>(user_data))(MessageEvent(*event));
}

inline std::vector<pm_port *> raw_ports(const std::vector<Port> &ports) {
  std::vector<pm_port *> raw;
  raw.reserve(ports.size());
  for (const Port &p : ports) raw.push_back(p.handle());
  return raw;
}

inline void consumed(std::vector<Port> &ports) noexcept {
  for (Port &p : ports) (void)p.release();
}

inline pm_result post_transfer(pm_window *source, pm_window *target, Bytes data,
                               const char *target_origin, std::vector<Port> &transfer) {
  const std::vector<pm_port *> raw = raw_ports(transfer);
  const pm_result rc =
      check(pm_post_message_transfer(source, target, data.data(), data.size(), target_origin,
                                     raw.data(), raw.size()),
            "pm_post_message_transfer");
  consumed(transfer);
  return rc;
}

inline pm_result port_post(pm_port *port, Bytes data, std::vector<Port> &transfer) {
  const std::vector<pm_port *> raw = raw_ports(transfer);
  const pm_result rc = check(
      pm_port_post_message(port, data.data(), data.size(), raw.data(), raw.size()),
      "pm_port_post_message");
  consumed(transfer);
  return rc;
}

}  // namespace detail

}  // namespace pm

#endif /* POSTMESSAGE_HPP */
