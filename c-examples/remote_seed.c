/* remote_seed.c: the reference scenario across two processes (site isolation).
 *
 * Document A (http://127.0.0.1) holds an iframe with document B (http://localhost), as in
 * seed.c, but B lives in another process, as a multi-process engine would put a cross-site
 * iframe. Each process keeps a *proxy* window for the document that lives in the other one:
 *
 *   process A (parent)                          process B (child, fork)
 *     a        = pm_window_new(127.0.0.1)         a_proxy = pm_remote_window_new(NULL, 127.0.0.1)
 *     b_proxy  = pm_remote_window_new(a, localhost)  b     = pm_window_new_child(a_proxy, localhost)
 *
 * A post to a proxy becomes a *record* that the library hands to the proxy's `send` callback;
 * the other process passes it to pm_remote_deliver(local target, proxy of the sender, record).
 * The IPC here is a socketpair(AF_UNIX, SOCK_SEQPACKET) (one packet per message, order kept)
 * used synchronously: `send` writes the record and then reads packets until the result of that
 * record comes back, delivering every record that arrives meanwhile (B's reply arrives while A
 * still waits for its own post to finish). So, as in one process, pm_post_message returns only
 * after B's listener ran, and A's listener got B's reply before that: the seed's exchange is
 * post "Hello World" (A->B), reply "Hello" (B->A), its result (A->B), the post's result (B->A).
 *
 * Then a MessageChannel: A transfers port2 to B (the record carries the port), and the two
 * processes talk over the ports both ways; closing A's port crosses too.
 *
 * Packets: one byte of kind, then the payload:
 *   'R' record   a record to pass to pm_remote_deliver; answered by one 'r' packet
 *   'r' result   the pm_result of the last 'R' (4 bytes, native int32: both sides are one binary)
 *   'Q' quit     A is done; B cleans up and exits
 *
 * Exits non-zero on any failure, in either process (the parent checks the child's status).
 *
 * Build: cc -std=c11 -Iinclude c-examples/remote_seed.c -Ltarget/release -lpostmessage -o remote_seed
 */
#define _DEFAULT_SOURCE /* fork, socketpair, sendmsg */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "postmessage.h"

#define URL_A "http://127.0.0.1/index.html"
#define URL_B "http://localhost/frame.html"
#define MAX_PACKET 65536

static const char *me = "A"; /* which process prints */
static int failures = 0;

static void expect(int ok, const char *what) {
  if (!ok) {
    failures++;
    printf("[%s]  !! unexpected: %s\n", me, what);
  }
}

static int data_is(const pm_message_event *event, const char *text) {
  return event->data_len == strlen(text) && memcmp(event->data, text, event->data_len) == 0;
}

static const char *result_name(pm_result rc) {
  switch (rc) {
    case PM_OK: return "PM_OK";
    case PM_DROPPED: return "PM_DROPPED";
    case PM_ERR_SYNTAX: return "PM_ERR_SYNTAX";
    case PM_ERR_INVALID_HANDLE: return "PM_ERR_INVALID_HANDLE";
    case PM_ERR_INVALID_ARGUMENT: return "PM_ERR_INVALID_ARGUMENT";
    case PM_ERR_SOURCE_ORIGIN: return "PM_ERR_SOURCE_ORIGIN";
    default: return "another error";
  }
}

/* ------------------------------------------------------------------ the IPC */

/* One process's end of the pipe, and where the records that arrive on it go. */
typedef struct {
  int fd;
  pm_window *local; /* the local window that window records target */
  pm_window *proxy; /* this process's proxy for the other side: the source of its records */
  int quit;         /* a 'Q' arrived */
  int broken;       /* the pipe failed: every later send fails at once */
} peer;

static int write_packet(peer *p, char kind, const void *payload, size_t len) {
  struct iovec iov[2] = {{&kind, 1}, {(void *)payload, len}};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = iov;
  msg.msg_iovlen = len ? 2 : 1;
  ssize_t n;
  do n = sendmsg(p->fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)(len + 1)) {
    p->broken = 1;
    printf("[%s]  !! sendmsg failed: %s\n", me, n < 0 ? strerror(errno) : "short write");
    return -1;
  }
  return 0;
}

/* Reads one packet into buf; returns its length (>= 1), or -1 (EOF, error, oversized). */
static ssize_t read_packet(peer *p, uint8_t *buf) {
  struct iovec iov = {buf, MAX_PACKET};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t n;
  do n = recvmsg(p->fd, &msg, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0 || (msg.msg_flags & MSG_TRUNC)) {
    p->broken = 1;
    printf("[%s]  !! recvmsg: %s\n", me, n < 0 ? strerror(errno) : n == 0 ? "the other process hung up" : "packet too big");
    return -1;
  }
  return n;
}

/* An 'R' packet: the other process's record goes to pm_remote_deliver; its result goes back.
 * Window records target p->local; port records find their port by id (target and source are
 * then ignored). p->proxy is the origin lock: a record claiming another origin is refused. */
static void serve_record(peer *p, const uint8_t *record, size_t len) {
  int32_t rc = (int32_t)pm_remote_deliver(p->local, p->proxy, record, len);
  write_packet(p, 'r', &rc, sizeof rc);
}

/* Handles one incoming packet outside a send; returns the kind, or 0 on failure. */
static char serve_one(peer *p) {
  static uint8_t buf[MAX_PACKET]; /* one per process; never used by two calls at once */
  ssize_t n = read_packet(p, buf);
  if (n < 0) return 0;
  if (buf[0] == 'R') {
    serve_record(p, buf + 1, (size_t)n - 1);
  } else if (buf[0] == 'Q') {
    p->quit = 1;
  } else {
    printf("[%s]  !! unexpected packet '%c' while idle\n", me, buf[0]);
    return 0;
  }
  return (char)buf[0];
}

/* The proxy's send callback: a synchronous IPC. Writes the record, then waits for its result,
 * serving the records that arrive meanwhile (they are the nested messages of this post: B's
 * reply, port messages...). May be re-entered from those deliveries: each level waits for the
 * result of its own record, and results come back in the reverse order of the records. */
static pm_result send_record(pm_window *proxy, const uint8_t *record, size_t len, void *user_data) {
  (void)proxy;
  peer *p = user_data;
  if (p->broken || write_packet(p, 'R', record, len) != 0) return PM_ERR_INVALID_HANDLE;
  uint8_t *buf = malloc(MAX_PACKET); /* per level: a nested delivery needs its own */
  if (buf == NULL) return PM_ERR_INVALID_HANDLE;
  pm_result result = PM_ERR_INVALID_HANDLE;
  for (;;) {
    ssize_t n = read_packet(p, buf);
    if (n < 0) break;
    if (buf[0] == 'r' && n == 1 + (ssize_t)sizeof(int32_t)) {
      int32_t rc;
      memcpy(&rc, buf + 1, sizeof rc);
      result = (pm_result)rc;
      break;
    }
    if (buf[0] == 'R') {
      serve_record(p, buf + 1, (size_t)n - 1);
      continue;
    }
    printf("[%s]  !! unexpected packet '%c' while waiting for a result\n", me, buf[0]);
    p->broken = 1;
    break;
  }
  free(buf);
  return result;
}

/* ------------------------------------------------------------------ process B: the iframe */

typedef struct {
  int hellos;
  pm_result reply_result;
  pm_port *port; /* the port A transferred to us; owned by window b */
  int pings;
  pm_result late_post; /* posting on our port after A closed its end */
} iframe_state;

/* port.onmessage in B: answer "ping" with "pong". */
static void b_on_port_message(const pm_message_event *event, void *user_data) {
  iframe_state *s = user_data;
  printf("[B]    port got \"%.*s\"\n", (int)event->data_len, (const char *)event->data);
  if (data_is(event, "ping")) {
    s->pings++;
    pm_result rc = pm_port_post_message(s->port, (const uint8_t *)"pong", 4, NULL, 0);
    expect(rc == PM_OK, "B's pong should return PM_OK");
  }
}

/* window.onmessage in B. */
static void b_on_message(const pm_message_event *event, void *user_data) {
  iframe_state *s = user_data;
  printf("[B]    iframe got \"%.*s\" from origin %s (%zu port(s))\n", (int)event->data_len,
         (const char *)event->data, event->origin, event->ports_len);
  if (strcmp(event->origin, "http://127.0.0.1") != 0) return; /* only trust the expected sender */
  if (data_is(event, "Hello World")) {
    /* e.source.postMessage('Hello', e.origin): event->source is B's proxy for A */
    s->hellos++;
    s->reply_result = pm_post_message(event->target, event->source, (const uint8_t *)"Hello", 5,
                                      event->origin);
    printf("[B]    iframe replied \"Hello\" to event->source: %s\n", result_name(s->reply_result));
  } else if (data_is(event, "port") && event->ports_len == 1) {
    s->port = event->ports[0];
    expect(pm_port_add_listener(s->port, b_on_port_message, s) != 0, "adding B's port listener");
    pm_result rc = pm_port_post_message(s->port, (const uint8_t *)"hello from B", 12, NULL, 0);
    expect(rc == PM_OK, "B's first port post should return PM_OK");
  } else if (data_is(event, "closed?") && s->port != NULL) {
    s->late_post = pm_port_post_message(s->port, (const uint8_t *)"late", 4, NULL, 0);
    const char *answer = s->late_post == PM_DROPPED ? "dropped" : "delivered";
    pm_post_message(event->target, event->source, (const uint8_t *)answer, strlen(answer),
                    event->origin);
  }
}

static int run_b(int fd) {
  me = "B";
  peer p = {fd, NULL, NULL, 0, 0};
  p.proxy = pm_remote_window_new(NULL, URL_A, send_record, &p, NULL);
  if (p.proxy == NULL) {
    printf("[B]  pm_remote_window_new failed: %s\n", pm_last_error());
    return 1;
  }
  p.local = pm_window_new_child(p.proxy, URL_B); /* an iframe here inside a page elsewhere */
  if (p.local == NULL) {
    printf("[B]  pm_window_new_child failed: %s\n", pm_last_error());
    pm_window_free(p.proxy);
    return 1;
  }
  expect(pm_window_parent(p.local) == p.proxy, "b's parent should be the proxy for A");
  iframe_state s = {0, PM_ERR_PANIC, NULL, 0, PM_ERR_PANIC};
  expect(pm_add_listener(p.local, b_on_message, &s) != 0, "adding B's listener");

  while (!p.quit && serve_one(&p) != 0) {
  }
  expect(p.quit, "B should be told to quit");
  expect(s.hellos == 1 && s.reply_result == PM_OK, "B should get \"Hello World\" once and reply PM_OK");
  expect(s.pings == 1, "B's port should get one ping");
  expect(s.late_post == PM_DROPPED, "B's post after A closed its port should be PM_DROPPED");

  pm_window_free(p.proxy); /* frees b (its child) and b's port too */
  printf("[B]  %s\n", failures == 0 ? "done" : "FAILED");
  return failures == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ process A: the page */

typedef struct {
  int messages;
  char last[64];
} page_state;

static void a_on_message(const pm_message_event *event, void *user_data) {
  page_state *s = user_data;
  s->messages++;
  snprintf(s->last, sizeof s->last, "%.*s", (int)event->data_len, (const char *)event->data);
  printf("[A]    page got \"%s\" from origin %s\n", s->last, event->origin);
}

static void a_on_port_message(const pm_message_event *event, void *user_data) {
  page_state *s = user_data;
  s->messages++;
  snprintf(s->last, sizeof s->last, "%.*s", (int)event->data_len, (const char *)event->data);
  printf("[A]    port1 got \"%s\"\n", s->last);
}

static void run_a(int fd) {
  peer p = {fd, NULL, NULL, 0, 0};
  p.local = pm_window_new(URL_A);
  if (p.local == NULL) {
    printf("[A]  pm_window_new failed: %s\n", pm_last_error());
    failures++;
    return;
  }
  p.proxy = pm_remote_window_new(p.local, URL_B, send_record, &p, NULL);
  if (p.proxy == NULL) {
    printf("[A]  pm_remote_window_new failed: %s\n", pm_last_error());
    failures++;
    pm_window_free(p.local);
    return;
  }
  char origin[64];
  pm_window_origin(p.proxy, origin, sizeof origin);
  printf("[A]  page %s (pid %ld) holds a proxy for the iframe %s in process B\n\n", URL_A,
         (long)getpid(), origin);

  page_state page = {0, ""};
  expect(pm_add_listener(p.local, a_on_message, &page) != 0, "adding A's listener");

  printf("[A] 1. postMessage(\"Hello World\", \"http://localhost\") to the proxy\n");
  pm_result rc = pm_post_message(p.local, p.proxy, (const uint8_t *)"Hello World", 11, "http://localhost");
  printf("[A]    => %s (synchronous: B's listener ran, and its reply reached A, before it returned)\n\n",
         result_name(rc));
  expect(rc == PM_OK, "the post should return PM_OK");
  expect(page.messages == 1 && strcmp(page.last, "Hello") == 0, "A should have got \"Hello\" already");

  printf("[A] 2. wrong targetOrigin \"https://localhost\"\n");
  rc = pm_post_message(p.local, p.proxy, (const uint8_t *)"Hello World", 11, "https://localhost");
  printf("[A]    => %s (decided in process B, against the iframe's current origin)\n\n", result_name(rc));
  expect(rc == PM_DROPPED, "a wrong targetOrigin should return PM_DROPPED");

  printf("[A] 3. malformed targetOrigin \"localhost\"\n");
  rc = pm_post_message(p.local, p.proxy, (const uint8_t *)"Hello World", 11, "localhost");
  printf("[A]    => %s (decided here: nothing was sent)\n\n", result_name(rc));
  expect(rc == PM_ERR_SYNTAX, "a malformed targetOrigin should return PM_ERR_SYNTAX");

  printf("[A] 4. a MessageChannel: port2 is transferred to B\n");
  pm_port *port1 = NULL, *port2 = NULL;
  expect(pm_channel_new(p.local, &port1, &port2) == PM_OK, "pm_channel_new");
  page_state on_port = {0, ""};
  expect(pm_port_add_listener(port1, a_on_port_message, &on_port) != 0, "adding A's port listener");
  rc = pm_post_message_transfer(p.local, p.proxy, (const uint8_t *)"port", 4, "http://localhost", &port2, 1);
  printf("[A]    => %s\n", result_name(rc));
  expect(rc == PM_OK, "the transfer should return PM_OK");
  expect(on_port.messages == 1 && strcmp(on_port.last, "hello from B") == 0,
         "port1 should have got B's \"hello from B\"");
  rc = pm_port_post_message(port1, (const uint8_t *)"ping", 4, NULL, 0);
  printf("[A]    port1.postMessage(\"ping\") => %s\n", result_name(rc));
  expect(rc == PM_OK, "the ping should return PM_OK");
  expect(on_port.messages == 2 && strcmp(on_port.last, "pong") == 0, "port1 should have got \"pong\"");

  printf("[A]    port1.close(), then ask B to post on its port\n");
  expect(pm_port_close(port1) == PM_OK, "closing port1");
  rc = pm_post_message(p.local, p.proxy, (const uint8_t *)"closed?", 7, "http://localhost");
  expect(rc == PM_OK, "the question should return PM_OK");
  expect(strcmp(page.last, "dropped") == 0, "B's post after the close should have been dropped");
  printf("\n");

  write_packet(&p, 'Q', NULL, 0);
  pm_window_free(p.local); /* frees the proxy (its child) too */
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* two processes print: one line at a time */
  printf("postmessage %s: the reference scenario across two processes\n\n", pm_version());

  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) != 0) {
    printf("socketpair failed: %s\n", strerror(errno));
    return 1;
  }
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) {
    printf("fork failed: %s\n", strerror(errno));
    return 1;
  }
  if (child == 0) {
    close(fds[0]);
    int status = run_b(fds[1]);
    close(fds[1]);
    exit(status);
  }
  close(fds[1]);
  run_a(fds[0]);
  close(fds[0]); /* B sees EOF if A failed before 'Q' */

  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  int child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  expect(child_ok, "process B should exit with status 0");
  if (failures == 0) {
    printf("OK: \"Hello World\" went to process B and \"Hello\" came back inside the same call; the "
           "port worked both ways.\n");
    return 0;
  }
  printf("FAILED: %d expectation(s) not met.\n", failures);
  return 1;
}
