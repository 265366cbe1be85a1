/* ticker: a process that notices being stopped or traced.
 *
 * Usage: ticker [--spin]
 *
 * Opens a loopback TCP listener, a client connected to it and the
 * accepted end, and starts these threads:
 *   reader   recv(client) until it returns, then prints
 *            "WOKE fd=C ret=R errno=E" and sleeps in pause() for good;
 *   epoller  epoll_wait(-1) on an eventfd nobody writes, forever.  It returns
 *            only when a signal interrupts it: a ptrace attach (SIGSTOP) does,
 *            and counts in "eintr" (every signal the process handles is
 *            blocked in this thread, so nothing else interrupts it);
 *   ticker   every millisecond: the longest gap between two clock reads
 *            ("max_gap_us") and the TracerPid of every thread of the process
 *            (/proc/self/task/TID/status): "traced" counts the reads that
 *            found one non-zero, "tracer" is the last such pid;
 *   spinner  (--spin) a busy loop calling sched_yield(): always in state R,
 *            so /proc/PID/task/TID/syscall says "running".
 * Then it prints
 *
 *   READY {"pid": N, "port": P, "fds": {"listen": L, "client": C,
 *          "accepted": A, "epoll": E}, "tids": {"reader": T, "epoller": T,
 *          "ticker": T, "spinner": T or null}}
 *
 * and the main thread waits in sigwaitinfo() for:
 *   SIGUSR1  print "STATS {"ticks": n, "max_gap_us": g, "traced": t,
 *            "tracer": p, "eintr": k}";
 *   SIGUSR2  reset max_gap_us to 0 (measure from now on) and print "RESET".
 * SIGTERM ends it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int listen_fd, client_fd, accepted_fd, epoll_fd;
static volatile int reader_tid, epoller_tid, ticker_tid, spinner_tid;
static long ticks, max_gap_us, traced, tracer, eintr;

static void die(const char *what)
{
    fprintf(stderr, "ticker: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int gettid_(void) { return (int)syscall(SYS_gettid); }

static long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void *reader(void *arg)
{
    (void)arg;
    reader_tid = gettid_();
    char buf[64];
    ssize_t r = recv(client_fd, buf, sizeof buf, 0);
    int e = r < 0 ? errno : 0;
    printf("WOKE fd=%d ret=%zd errno=%d\n", client_fd, r, e);
    fflush(stdout);
    for (;;)
        pause();
    return NULL;
}

static void *epoller(void *arg)
{
    (void)arg;
    epoller_tid = gettid_();
    struct epoll_event ev;
    for (;;) {
        int n = epoll_wait(epoll_fd, &ev, 1, -1);
        if (n < 0 && errno == EINTR)
            __atomic_add_fetch(&eintr, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* The TracerPid of one thread, 0 if none or unreadable. */
static long tracer_of(const char *tid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long pid = 0;
    while (fgets(buf, sizeof buf, f))
        if (sscanf(buf, "TracerPid: %ld", &pid) == 1)
            break;
    fclose(f);
    return pid;
}

static void *ticker(void *arg)
{
    (void)arg;
    ticker_tid = gettid_();
    long last = now_us();
    struct timespec ms = {0, 1000000};
    for (;;) {
        nanosleep(&ms, NULL);
        long t = now_us();
        long gap = t - last;
        last = t;
        if (gap > __atomic_load_n(&max_gap_us, __ATOMIC_SEQ_CST))
            __atomic_store_n(&max_gap_us, gap, __ATOMIC_SEQ_CST);
        DIR *d = opendir("/proc/self/task");
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                    continue;
                long p = tracer_of(e->d_name);
                if (p) {
                    __atomic_add_fetch(&traced, 1, __ATOMIC_SEQ_CST);
                    __atomic_store_n(&tracer, p, __ATOMIC_SEQ_CST);
                }
            }
            closedir(d);
        }
        __atomic_add_fetch(&ticks, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void *spinner(void *arg)
{
    (void)arg;
    spinner_tid = gettid_();
    for (;;)
        sched_yield();
    return NULL;
}

static void start(void *(*fn)(void *), volatile int *tid)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, NULL) != 0)
        die("pthread_create");
    while (!*tid)
        sched_yield();
}

int main(int argc, char **argv)
{
    int spin = argc > 1 && strcmp(argv[1], "--spin") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Every thread inherits this mask: only sigwaitinfo() takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        die("pthread_sigmask");

    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0
        || listen(listen_fd, 8) < 0
        || getsockname(listen_fd, (struct sockaddr *)&addr, &len) < 0)
        die("listener");
    client_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (client_fd < 0 || connect(client_fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("connect");
    accepted_fd = accept(listen_fd, NULL, NULL);
    if (accepted_fd < 0)
        die("accept");
    int efd = eventfd(0, 0);
    epoll_fd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    if (efd < 0 || epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, efd, &ev) < 0)
        die("epoll");

    start(reader, &reader_tid);
    start(epoller, &epoller_tid);
    start(ticker, &ticker_tid);
    if (spin)
        start(spinner, &spinner_tid);
    char spinner_text[16] = "null";
    if (spin)
        snprintf(spinner_text, sizeof spinner_text, "%d", spinner_tid);
    printf("READY {\"pid\": %d, \"port\": %d, \"fds\": {\"listen\": %d, \"client\": %d, "
           "\"accepted\": %d, \"epoll\": %d}, \"tids\": {\"reader\": %d, \"epoller\": %d, "
           "\"ticker\": %d, \"spinner\": %s}}\n",
           getpid(), ntohs(addr.sin_port), listen_fd, client_fd, accepted_fd, epoll_fd,
           reader_tid, epoller_tid, ticker_tid, spinner_text);

    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig == SIGUSR1)
            printf("STATS {\"ticks\": %ld, \"max_gap_us\": %ld, \"traced\": %ld, "
                   "\"tracer\": %ld, \"eintr\": %ld}\n",
                   __atomic_load_n(&ticks, __ATOMIC_SEQ_CST),
                   __atomic_load_n(&max_gap_us, __ATOMIC_SEQ_CST),
                   __atomic_load_n(&traced, __ATOMIC_SEQ_CST),
                   __atomic_load_n(&tracer, __ATOMIC_SEQ_CST),
                   __atomic_load_n(&eintr, __ATOMIC_SEQ_CST));
        else if (sig == SIGUSR2) {
            __atomic_store_n(&max_gap_us, 0, __ATOMIC_SEQ_CST);
            printf("RESET\n");
        }
    }
}
