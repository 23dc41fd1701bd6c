/* postmessage benchmark, remote windows: the rows of `make bench` for posts that cross processes.
 *
 * Built and run by benches/run.sh after benches/bench.c, linked against the release library; it
 * prints its rows in bench.c's table format (one section; the clock, medians and rows are
 * benches/bench_util.h's, shared with bench.c) and exits 0 if every PASS/FAIL row passed, 1
 * otherwise, 2 on a harness error.
 *
 * Rows:
 * - The seed's exchange across two processes: A (this process) posts "Hello World" to its proxy
 *   for B; B (a forked child) delivers it, its listener replies "Hello" through its proxy for
 *   A, whose send waits while A delivers that reply; then the two results travel back. That is
 *   4 packets over a socketpair(AF_UNIX, SOCK_SEQPACKET), with the synchronous IPC of
 *   c-examples/remote_seed.c. Against: the same 4 packets (same sizes, same directions, same
 *   blocking reads) sent raw between the same two processes, no library involved. The ratio
 *   shows what the library adds to the IPC: target <= 1.25.
 * - Encode + decode of an 11-byte message, in one process: a post through a proxy whose send
 *   calls pm_remote_deliver on a local window (encode, decode, validate, dispatch), minus the
 *   same post to that window directly (dispatch): what remains is the record's encoding and
 *   decoding and the origin checks that decoding repeats. The core exports no codec entry point,
 *   so this is measured through the API; two more rows split it into its halves.
 *
 * Method as in bench.c: batches of N operations per sample (N calibrated to ~SAMPLE_MS), REPS
 * samples, the two cases of a pair interleaved sample by sample, median (and min). Every
 * exchange checks its result codes and listener counts, so nothing can be skipped.
 */
#define _GNU_SOURCE
#include "postmessage.h"
#include "bench_util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPS 21
#define SAMPLE_MS 20.0 /* an exchange takes ~20 us: ~1,000 per sample */
#define MAX_PACKET 65536

#define URL_A "http://127.0.0.1/index.html"
#define URL_B "http://localhost/frame.html"

static void die(const char *what) {
    fprintf(stderr, "bench (remote, pid %ld): %s (errno: %s; pm_last_error: %s)\n", (long)getpid(), what,
            strerror(errno), pm_last_error());
    exit(2);
}

/* ---------------------------------------------------------------------------------------------
 * The packets (as in c-examples/remote_seed.c): one kind byte, then the payload.
 *   'R' record -> pm_remote_deliver, answered by 'r' + int32 result
 *   'X' raw: the first of the 4 raw packets; its payload says the sizes of the other three
 *   'Q' quit */

static int fd_ipc;
static uint64_t listener_calls;

static void put(char kind, const void *payload, size_t len) {
    struct iovec iov[2] = {{&kind, 1}, {(void *)payload, len}};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = len ? 2 : 1;
    if (sendmsg(fd_ipc, &msg, MSG_NOSIGNAL) != (ssize_t)(len + 1)) die("sendmsg");
}

static size_t get(uint8_t *buf) {
    ssize_t n = recv(fd_ipc, buf, MAX_PACKET, 0);
    if (n <= 0) die("recv");
    return (size_t)n;
}

typedef struct {
    pm_window *local, *proxy;
} side;

static void serve_record(side *s, const uint8_t *record, size_t len) {
    int32_t rc = (int32_t)pm_remote_deliver(s->local, s->proxy, record, len);
    put('r', &rc, sizeof rc);
}

/* The synchronous send: write the record, serve records until its result arrives. */
static size_t last_sent_len, last_nested_len;

static pm_result send_sync(pm_window *proxy, const uint8_t *record, size_t len, void *ud) {
    (void)proxy;
    side *s = ud;
    uint8_t buf[MAX_PACKET];
    last_sent_len = len;
    put('R', record, len);
    for (;;) {
        size_t n = get(buf);
        if (buf[0] == 'r' && n == 5) {
            int32_t rc;
            memcpy(&rc, buf + 1, 4);
            return (pm_result)rc;
        }
        if (buf[0] != 'R') die("unexpected packet while waiting");
        last_nested_len = n - 1;
        serve_record(s, buf + 1, n - 1);
    }
}

static void b_on_message(const pm_message_event *e, void *ud) {
    (void)ud;
    listener_calls++;
    if (pm_post_message(e->target, e->source, (const uint8_t *)"Hello", 5, e->origin) != PM_OK)
        die("B's reply did not return PM_OK");
}

static void a_on_message(const pm_message_event *e, void *ud) {
    (void)e;
    (void)ud;
    listener_calls++;
}

/* Process B: the iframe, serving until 'Q'. */
static void run_b(void) {
    side s;
    s.proxy = pm_remote_window_new(NULL, URL_A, send_sync, &s, NULL);
    s.local = s.proxy ? pm_window_new_child(s.proxy, URL_B) : NULL;
    if (!s.local || !pm_add_listener(s.local, b_on_message, NULL)) die("B's windows");
    static uint8_t buf[MAX_PACKET], pad[MAX_PACKET];
    for (;;) {
        size_t n = get(buf);
        if (buf[0] == 'R') {
            serve_record(&s, buf + 1, n - 1);
        } else if (buf[0] == 'X') {
            /* raw: payload = sizes of packet 2 and 4 (uint32 each), padded to packet 1's size */
            uint32_t len2, len4;
            memcpy(&len2, buf + 1, 4);
            memcpy(&len4, buf + 5, 4);
            put('y', pad, len2 - 1);
            get(buf); /* packet 3 */
            put('w', pad, len4 - 1);
        } else if (buf[0] == 'Q') {
            break;
        } else {
            die("B: unexpected packet");
        }
    }
    pm_window_free(s.proxy);
}

/* ---------------------------------------------------------------------------------------------
 * Process A: the two cases */

static side a_side;
static size_t len1, len2, len3 = 5, len4 = 5; /* the 4 packets' sizes, kind byte included */

static void remote_exchanges(long n) {
    uint64_t before = listener_calls;
    for (long i = 0; i < n; i++)
        if (pm_post_message(a_side.local, a_side.proxy, (const uint8_t *)"Hello World", 11, "http://localhost") != PM_OK)
            die("the remote post did not return PM_OK");
    if (listener_calls - before != (uint64_t)n) die("A's listener did not run once per exchange");
}

static void raw_exchanges(long n) {
    static uint8_t out[MAX_PACKET], in[MAX_PACKET];
    uint32_t l2 = (uint32_t)len2, l4 = (uint32_t)len4;
    memcpy(out, &l2, 4);
    memcpy(out + 4, &l4, 4);
    for (long i = 0; i < n; i++) {
        put('X', out, len1 - 1);
        if (get(in) != len2) die("raw packet 2");
        put('z', out, len3 - 1);
        if (get(in) != len4) die("raw packet 4");
    }
}

/* Local: a post through a proxy whose send delivers here, vs the same post directly. */
static pm_window *loc_src, *loc_dst, *loc_proxy;

static pm_result send_local(pm_window *proxy, const uint8_t *record, size_t len, void *ud) {
    (void)proxy;
    (void)ud;
    return pm_remote_deliver(loc_dst, NULL, record, len);
}

static void via_proxy(long n) {
    uint64_t before = listener_calls;
    for (long i = 0; i < n; i++)
        if (pm_post_message(loc_src, loc_proxy, (const uint8_t *)"Hello World", 11, "http://localhost") != PM_OK)
            die("the post through the local proxy did not return PM_OK");
    if (listener_calls - before != (uint64_t)n) die("listener count (via proxy)");
}

/* The two halves: encoding alone (a send that only keeps the record), decoding alone
 * (pm_remote_deliver of that kept record, which also dispatches it). */
static pm_window *enc_proxy;
static uint8_t kept[MAX_PACKET];
static size_t kept_len;

static pm_result send_keep(pm_window *proxy, const uint8_t *record, size_t len, void *ud) {
    (void)proxy;
    (void)ud;
    if (len > sizeof kept) return PM_ERR_INVALID_ARGUMENT;
    memcpy(kept, record, len);
    kept_len = len;
    return PM_OK;
}

static void encode_only(long n) {
    for (long i = 0; i < n; i++)
        if (pm_post_message(loc_src, enc_proxy, (const uint8_t *)"Hello World", 11, "http://localhost") != PM_OK)
            die("the post to the keeping proxy did not return PM_OK");
}

static void decode_only(long n) {
    uint64_t before = listener_calls;
    for (long i = 0; i < n; i++)
        if (pm_remote_deliver(loc_dst, NULL, kept, kept_len) != PM_OK) die("pm_remote_deliver of the kept record");
    if (listener_calls - before != (uint64_t)n) die("listener count (decode)");
}

static void direct_post(long n) {
    uint64_t before = listener_calls;
    for (long i = 0; i < n; i++)
        if (pm_post_message(loc_src, loc_dst, (const uint8_t *)"Hello World", 11, "http://localhost") != PM_OK)
            die("the direct post did not return PM_OK");
    if (listener_calls - before != (uint64_t)n) die("listener count (direct)");
}

typedef struct {
    void (*run)(long);
    long batch;
    double samples[REPS];
    double ns, min;
} pcase;

static double timed(pcase *c, long n) {
    double t0 = now_ns();
    c->run(n);
    return (now_ns() - t0) / (double)n;
}

/* Calibrates each case, then REPS rounds with the cases interleaved. */
static void measure(pcase *cases, int ncases) {
    for (int i = 0; i < ncases; i++) {
        pcase *c = &cases[i];
        long n = 50;
        double per = timed(c, n);
        while (per * (double)n < 2e6 && n < 100000000L) {
            n *= 4;
            per = timed(c, n);
        }
        c->batch = (long)(SAMPLE_MS * 1e6 / (per > 0.1 ? per : 0.1));
        if (c->batch < 20) c->batch = 20;
    }
    for (int r = 0; r < REPS; r++)
        for (int i = 0; i < ncases; i++) cases[i].samples[r] = timed(&cases[i], cases[i].batch);
    for (int i = 0; i < ncases; i++) {
        cases[i].ns = median(cases[i].samples, REPS);
        cases[i].min = minimum(cases[i].samples, REPS);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) != 0) die("socketpair");
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        close(fds[0]);
        fd_ipc = fds[1];
        run_b();
        _exit(0);
    }
    close(fds[1]);
    fd_ipc = fds[0];
    fprintf(stderr, "bench: remote windows (B is pid %ld)...\n", (long)child);

    a_side.local = pm_window_new(URL_A);
    a_side.proxy = a_side.local ? pm_remote_window_new(a_side.local, URL_B, send_sync, &a_side, NULL) : NULL;
    if (!a_side.proxy || !pm_add_listener(a_side.local, a_on_message, NULL)) die("A's windows");
    remote_exchanges(1); /* learn the packet sizes */
    len1 = 1 + last_sent_len;
    len2 = 1 + last_nested_len;

    pcase cross[2] = {{remote_exchanges, 0, {0}, 0, 0}, {raw_exchanges, 0, {0}, 0, 0}};
    measure(cross, 2);

    put('Q', NULL, 0);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("process B failed");
    pm_window_free(a_side.local);

    loc_src = pm_window_new(URL_A);
    loc_dst = pm_window_new(URL_B);
    loc_proxy = loc_src ? pm_remote_window_new(loc_src, URL_B, send_local, NULL, NULL) : NULL;
    if (!loc_proxy || !loc_dst || !pm_add_listener(loc_dst, a_on_message, NULL)) die("local windows");
    enc_proxy = pm_remote_window_new(loc_src, URL_B, send_keep, NULL, NULL);
    if (!enc_proxy) die("the keeping proxy");
    encode_only(1);
    pcase local[4] = {{via_proxy, 0, {0}, 0, 0}, {direct_post, 0, {0}, 0, 0},
                      {encode_only, 0, {0}, 0, 0}, {decode_only, 0, {0}, 0, 0}};
    measure(local, 4);
    pm_window_free(loc_src);
    pm_window_free(loc_dst);

    char name[96], tgt[96];
    section("remote windows (benches/remote.c): two processes, socketpair(AF_UNIX, SOCK_SEQPACKET)");
    snprintf(name, sizeof name, "raw: the same 4 packets (%zu+%zu+%zu+%zu B), no library", len1, len2, len3, len4);
    bench_row(name, cross[1].ns, cross[1].min, 1.0, "reference (the IPC)", -1);
    double ratio = cross[0].ns / cross[1].ns;
    bench_row("seed across 2 processes: post + reply, sync, 4 packets", cross[0].ns, cross[0].min, ratio,
        "<= 1.25x raw", ratio <= 1.25);
    snprintf(tgt, sizeof tgt, "info: ~%.0f us per round trip", cross[0].ns / 1000.0);
    bench_row("  the same, in microseconds", cross[0].ns / 1000.0, cross[0].min / 1000.0, 0, tgt, -1);
    bench_row("post via a proxy whose send delivers here, 11 B", local[0].ns, local[0].min, local[0].ns / local[1].ns,
        "info (ratio to the direct post)", -1);
    bench_row("the same post directly (no record)", local[1].ns, local[1].min, 1.0, "reference", -1);
    double codec = local[0].ns - local[1].ns;
    snprintf(tgt, sizeof tgt, "info: a %zu-byte record", len1 - 1);
    bench_row("  encode + decode of an 11 B message (difference)", codec, -1, 0, tgt, -1);
    bench_row("  encode alone: post to a proxy whose send keeps it", local[2].ns, local[2].min, 0,
        "info (includes the post's own checks)", -1);
    bench_row("  decode alone: pm_remote_deliver of that record", local[3].ns, local[3].min, 0,
        "info (includes the dispatch)", -1);
    printf("   the library's share of an exchange (2 records, each encoded and decoded): %.1f us, "
           "i.e. %.1f us per record (medians: noisy)\n",
           (cross[0].ns - cross[1].ns) / 1000.0, (cross[0].ns - cross[1].ns) / 2000.0);
    double load1 = load_average();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (load1 > 0.5 * (double)ncpu)
        printf("   ** busy machine (load average %.2f, %ld CPUs): the IPC rows are noisy **\n", load1, ncpu);
    printf("\n%d remote target(s) failed\n", bench_failures);
    return bench_failures ? 1 : 0;
}
