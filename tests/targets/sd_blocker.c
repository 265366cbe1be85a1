/* sd_blocker: a process with a thread stuck on a socket, for sock-shutdown tests.
 *
 * Usage: sd_blocker MODE [--busy N] [--sleeper MS] [--closewait N] [--errno E]
 *
 * Sets up, on 127.0.0.1 (ports chosen by the kernel): a TCP listener, a
 * client connected to it and the accepted end; a fresh unconnected TCP
 * socket; /dev/null open read-only; with --closewait N, N more accepted
 * sockets whose peers (clients of this process) were closed, so they sit
 * in CLOSE-WAIT.  The program never calls shutdown() itself.  Then prints
 *
 *   READY {"pid": P, "port": PORT, "blocked_tid": T, "busy_tids": [...],
 *          "sleeper_tid": T|null, "sleeper_t0_ns": NS|null,
 *          "fds": {"listen": L, "client": C, "accepted": A, "fresh": F,
 *                  "devnull": D, "closewait": [...]}}
 *
 * and the main thread (tid P, gdb's thread 1) waits, by MODE:
 *   recv     recv(client)
 *   rawrecv  errno = E (default 1234), then syscall(SYS_recvfrom, client...):
 *            errno is read right after the call returns, before any other
 *            libc call can change it
 *   poll     poll(client, POLLIN)
 *   accept   accept(listen)
 *   pause    pause() forever
 * When the call returns it prints, in one line,
 *   "WOKE mode=M fd=N ret=R errno=E"
 * (errno is the thread's errno read right after the call, whatever R is).
 * Then, with --busy, it checks that every spinning thread still makes
 * progress and never saw its own registers go wrong:
 *   "SPIN threads=N progressed=K corrupt=0"
 * and stays alive in pause() (SIGTERM/SIGKILL ends it), fds untouched.
 *
 * --busy N      N threads spinning in user code (never sleeping), started
 *               and seen spinning before READY; each checks an invariant
 *               of its own locals on every turn.
 * --sleeper MS  one thread in clock_nanosleep(CLOCK_MONOTONIC, relative MS
 *               ms), started before READY, whose "sleeper_t0_ns" says when
 *               (CLOCK_MONOTONIC); when it returns it prints
 *               "SLEPT ms=ELAPSED ret=R" (ret is clock_nanosleep's result,
 *               0 or an error number).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_BUSY 64
#define MAX_CLOSEWAIT 32

static volatile unsigned long progress[MAX_BUSY];
static volatile int corrupt;
static volatile pid_t busy_tid[MAX_BUSY];
static volatile pid_t sleeper_tid;
static volatile long long sleeper_t0;
static long sleeper_ms;

static void die(const char *what)
{
    fprintf(stderr, "sd_blocker: %s: %s\n", what, strerror(errno));
    exit(2);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *spinner(void *arg)
{
    long i = (long)arg;
    unsigned long a = 0, b = 0, c = 7;
    busy_tid[i] = (pid_t)syscall(SYS_gettid);
    for (;;) {
        a += 3;
        b += 1;
        c ^= a;
        c ^= a;
        if (a != 3 * b || c != 7)
            corrupt = 1;
        progress[i]++;
    }
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    struct timespec d = {sleeper_ms / 1000, (sleeper_ms % 1000) * 1000000L};
    long long t0 = now_ns();
    sleeper_t0 = t0;
    sleeper_tid = (pid_t)syscall(SYS_gettid);
    int ret = clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL);
    long long t1 = now_ns();
    printf("SLEPT ms=%lld ret=%d\n", (t1 - t0) / 1000000LL, ret);
    fflush(stdout);
    for (;;)
        pause();
    return NULL;
}

static int tcp_listener(struct sockaddr_in *a)
{
    socklen_t len = sizeof *a;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof *a) < 0 || listen(fd, 64) < 0)
        die("listen");
    if (getsockname(fd, (struct sockaddr *)a, &len) < 0)
        die("getsockname");
    return fd;
}

static int tcp_connect(const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof *a) < 0)
        die("connect");
    return fd;
}

int main(int argc, char **argv)
{
    const char *mode = NULL;
    int busy = 0, closewait = 0, planted = 1234;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--busy") == 0 && i + 1 < argc)
            busy = atoi(argv[++i]);
        else if (strcmp(argv[i], "--sleeper") == 0 && i + 1 < argc)
            sleeper_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--closewait") == 0 && i + 1 < argc)
            closewait = atoi(argv[++i]);
        else if (strcmp(argv[i], "--errno") == 0 && i + 1 < argc)
            planted = atoi(argv[++i]);
        else if (!mode)
            mode = argv[i];
        else
            mode = "";
    }
    if (!mode || (strcmp(mode, "recv") && strcmp(mode, "rawrecv") && strcmp(mode, "poll") &&
                  strcmp(mode, "accept") && strcmp(mode, "pause")) ||
        busy < 0 || busy > MAX_BUSY || closewait < 0 || closewait > MAX_CLOSEWAIT) {
        fprintf(stderr, "usage: sd_blocker recv|rawrecv|poll|accept|pause [--busy N] "
                        "[--sleeper MS] [--closewait N] [--errno E]\n");
        return 2;
    }

    struct sockaddr_in a;
    int lfd = tcp_listener(&a);
    int cfd = tcp_connect(&a);
    int afd = accept(lfd, NULL, NULL);
    if (afd < 0)
        die("accept");
    int fresh = socket(AF_INET, SOCK_STREAM, 0);
    int devnull = open("/dev/null", O_RDONLY);
    if (fresh < 0 || devnull < 0)
        die("socket/open");

    /* CLOSE-WAIT: accepted ends whose clients closed (the client's FIN arrived). */
    int cw[MAX_CLOSEWAIT];
    for (int i = 0; i < closewait; i++) {
        int c = tcp_connect(&a);
        cw[i] = accept(lfd, NULL, NULL);
        if (cw[i] < 0)
            die("accept");
        close(c);
        /* The FIN is queued: wait until the accepted end reads end-of-file. */
        struct pollfd p = {cw[i], POLLIN | POLLRDHUP, 0};
        if (poll(&p, 1, 5000) != 1 || !(p.revents & POLLRDHUP))
            die("peer close not seen");
    }

    for (long i = 0; i < busy; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, spinner, (void *)i) != 0)
            die("pthread_create");
    }
    for (int i = 0; i < busy; i++)
        while (progress[i] == 0 || busy_tid[i] == 0)
            sched_yield();

    if (sleeper_ms > 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, sleeper, NULL) != 0)
            die("pthread_create");
        while (sleeper_tid == 0)
            sched_yield();
    }

    printf("READY {\"pid\": %d, \"port\": %d, \"blocked_tid\": %d, \"busy_tids\": [",
           (int)getpid(), ntohs(a.sin_port), (int)getpid());
    for (int i = 0; i < busy; i++)
        printf("%s%d", i ? ", " : "", (int)busy_tid[i]);
    printf("], \"sleeper_tid\": ");
    if (sleeper_ms > 0)
        printf("%d, \"sleeper_t0_ns\": %lld", (int)sleeper_tid, sleeper_t0);
    else
        printf("null, \"sleeper_t0_ns\": null");
    printf(", \"fds\": {\"listen\": %d, \"client\": %d, \"accepted\": %d, \"fresh\": %d, "
           "\"devnull\": %d, \"closewait\": [", lfd, cfd, afd, fresh, devnull);
    for (int i = 0; i < closewait; i++)
        printf("%s%d", i ? ", " : "", cw[i]);
    printf("]}}\n");
    fflush(stdout);

    char buf[64];
    long ret = 0;
    int err = 0;
    int fd = cfd;
    if (strcmp(mode, "pause") == 0) {
        for (;;)
            pause();
    } else if (strcmp(mode, "rawrecv") == 0) {
        errno = planted;
        ret = syscall(SYS_recvfrom, cfd, buf, sizeof buf, 0, NULL, NULL);
        err = errno;
    } else if (strcmp(mode, "recv") == 0) {
        errno = 0;
        ret = recv(cfd, buf, sizeof buf, 0);
        err = errno;
    } else if (strcmp(mode, "poll") == 0) {
        struct pollfd p = {cfd, POLLIN, 0};
        errno = 0;
        ret = poll(&p, 1, -1);
        err = errno;
    } else {
        fd = lfd;
        errno = 0;
        ret = accept(lfd, NULL, NULL);
        err = errno;
    }
    printf("WOKE mode=%s fd=%d ret=%ld errno=%d\n", mode, fd, ret, err);
    fflush(stdout);

    if (busy > 0) {
        unsigned long before[MAX_BUSY];
        for (int i = 0; i < busy; i++)
            before[i] = progress[i];
        /* Until each thread has moved on, or 10 s: on a loaded machine a
         * runnable thread may wait long for a core, but it gets one. */
        struct timespec d = {0, 10 * 1000000L};
        int progressed = 0;
        for (int round = 0; round < 1000 && progressed < busy; round++) {
            nanosleep(&d, NULL);
            progressed = 0;
            for (int i = 0; i < busy; i++)
                progressed += progress[i] != before[i];
        }
        printf("SPIN threads=%d progressed=%d corrupt=%d\n", busy, progressed, corrupt);
        fflush(stdout);
    }
    for (;;)
        pause();
}
