/* stall_target: measures, from inside, how long it was frozen.
 *
 * Usage: stall_target [PERIOD_US]          (default 1000)
 *
 * Opens a loopback TCP pair (listener, client, accepted end) and runs:
 *   - the main thread, blocked in recv() on the client fd: the thread gdb
 *     selects on attach, as in a real process stuck on a dead peer.  When
 *     recv returns it prints "WOKE ret=R errno=E" and keeps the process
 *     alive (it sleeps) so the ticker can still be asked;
 *   - a ticker thread: every PERIOD_US it reads CLOCK_MONOTONIC and keeps
 *     the longest gap between two consecutive reads (normally PERIOD_US
 *     plus scheduling noise; while the process is stopped by ptrace, the
 *     whole stop);
 *   - a control thread reading lines on stdin: each line is answered with
 *     "MAX gap_us=G ticks=T" (longest gap and tick count since the last
 *     answer) and resets both.  EOF on stdin ends the process.
 *
 * At start it prints one line:
 *   READY {"pid": N, "port": P, "fds": {"listen": L, "client": C, "accepted": A}}
 * Every line is flushed at once (stdout is a pipe).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long period_ns = 1000000;
static atomic_llong max_gap_ns;
static atomic_llong ticks;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&out_lock);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static void die(const char *what)
{
    fprintf(stderr, "stall_target: %s: %s\n", what, strerror(errno));
    exit(2);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *ticker(void *arg)
{
    (void)arg;
    struct timespec nap = {period_ns / 1000000000L, period_ns % 1000000000L};
    long long last = now_ns();
    for (;;) {
        /* Whatever the sleep returns (EINTR, or worse after a damaged
         * restart), the clock says how long we were away. */
        nanosleep(&nap, NULL);
        long long t = now_ns();
        long long gap = t - last;
        last = t;
        long long seen = atomic_load(&max_gap_ns);
        while (gap > seen && !atomic_compare_exchange_weak(&max_gap_ns, &seen, gap))
            ;
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

static void *control(void *arg)
{
    (void)arg;
    char buf[256];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n == 0)
            exit(0);
        if (n < 0)
            continue; /* EINTR, or an errno leaked by a damaged restart */
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n')
                continue;
            long long gap = atomic_exchange(&max_gap_ns, 0);
            long long t = atomic_exchange(&ticks, 0);
            say("MAX gap_us=%lld ticks=%lld\n", gap / 1000, t);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        period_ns = atol(argv[1]) * 1000L;
    if (period_ns <= 0)
        period_ns = 1000000;

    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 8) < 0)
        die("listen");
    if (getsockname(lfd, (struct sockaddr *)&a, &len) < 0)
        die("getsockname");
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    int afd = accept(lfd, NULL, NULL);
    if (afd < 0)
        die("accept");

    pthread_t t;
    if (pthread_create(&t, NULL, ticker, NULL) != 0 ||
        pthread_create(&t, NULL, control, NULL) != 0)
        die("pthread_create");

    say("READY {\"pid\": %d, \"port\": %d, \"fds\": {\"listen\": %d, \"client\": %d, "
        "\"accepted\": %d}}\n", (int)getpid(), ntohs(a.sin_port), lfd, cfd, afd);

    char c;
    ssize_t r = recv(cfd, &c, 1, 0);
    int e = r < 0 ? errno : 0;
    say("WOKE ret=%zd errno=%d\n", r, e);
    for (;;)
        pause();
}
