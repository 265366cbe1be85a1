/* rm_survivor: a process blocked in recv() that keeps living after it wakes.
 *
 * Usage: rm_survivor [--high-fd N] [--threads N]
 *
 * Opens a TCP listener on 127.0.0.1, a client connected to it and the
 * accepted end, a UNIX socketpair, a bound UDP socket and a fresh TCP
 * socket (in no kernel table), then prints
 *
 *   READY {"nspid": N, "fds": {NAME: FD, ...}, "inodes": {NAME: INODE, ...}}
 *
 * (nspid is getpid() as the process sees it: 1 in a new pid namespace;
 * no "pid" key, so the harness keeps the pid it started).  --high-fd N
 * moves the client to fd N (a sparse, large fd table); --threads N starts
 * N extra threads sleeping in pause().
 *
 * The main thread waits in recv() on the client.  When recv returns it
 * prints "WOKE fd=C ret=R errno=E", then goes on working: every 100 ms it
 * calls into libc, touches its stack and prints "ALIVE K", until killed.
 * A process whose context was damaged while it was stopped dies here
 * (the failure seen after an inferior call through gdbserver: SIGSEGV
 * moments after detach).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "rm_survivor: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static unsigned long inode_of(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        die("fstat");
    return (unsigned long)st.st_ino;
}

static unsigned long work(unsigned long k)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%lu-%lu", k, k * 2654435761u);
    char *copy = strdup(buf);
    if (copy == NULL)
        die("strdup");
    unsigned long sum = 0;
    for (char *p = copy; *p; p++)
        sum = sum * 31 + (unsigned char)*p;
    free(copy);
    return sum;
}

int main(int argc, char **argv)
{
    int high_fd = -1, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--high-fd") == 0 && i + 1 < argc)
            high_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: rm_survivor [--high-fd N] [--threads N]\n");
            return 2;
        }
    }

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
    if (high_fd >= 0) {
        if (dup2(cfd, high_fd) < 0)
            die("dup2");
        close(cfd);
        cfd = high_fd;
    }
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
        die("socketpair");
    struct sockaddr_in u;
    memset(&u, 0, sizeof u);
    u.sin_family = AF_INET;
    u.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ufd = socket(AF_INET, SOCK_DGRAM, 0);
    if (ufd < 0 || bind(ufd, (struct sockaddr *)&u, sizeof u) < 0)
        die("udp");
    int fresh = socket(AF_INET, SOCK_STREAM, 0);
    if (fresh < 0)
        die("socket");

    for (int i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, sleeper, NULL) != 0)
            die("pthread_create");
    }

    printf("READY {\"nspid\": %d, \"fds\": {\"listen\": %d, \"client\": %d, \"accepted\": %d, "
           "\"pair_a\": %d, \"pair_b\": %d, \"udp\": %d, \"fresh\": %d}, "
           "\"inodes\": {\"listen\": %lu, \"client\": %lu, \"accepted\": %lu, "
           "\"pair_a\": %lu, \"pair_b\": %lu, \"udp\": %lu, \"fresh\": %lu}}\n",
           (int)getpid(), lfd, cfd, afd, pair[0], pair[1], ufd, fresh,
           inode_of(lfd), inode_of(cfd), inode_of(afd), inode_of(pair[0]),
           inode_of(pair[1]), inode_of(ufd), inode_of(fresh));
    fflush(stdout);

    char buf[64];
    ssize_t ret = recv(cfd, buf, sizeof buf, 0);
    int err = ret < 0 ? errno : 0;
    printf("WOKE fd=%d ret=%zd errno=%d\n", cfd, ret, err);
    fflush(stdout);

    struct timespec tick = {0, 100 * 1000 * 1000};
    for (unsigned long k = 0;; k++) {
        nanosleep(&tick, NULL);
        printf("ALIVE %lu %lu\n", k, work(k));
        fflush(stdout);
    }
}
