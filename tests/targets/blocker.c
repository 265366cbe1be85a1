/* blocker: a loopback TCP connection whose client end a thread waits on.
 *
 * Usage: blocker [recv|poll|pause] [--threads N]
 *
 * Opens a TCP listener on 127.0.0.1 (port chosen by the kernel), a client
 * connected to it and the accepted end, then prints
 *
 *   READY {"pid": N, "port": P, "fds": {"listen": L, "client": C, "accepted": A}}
 *
 * and waits in the main thread:
 *   recv  (default) recv(client) until it returns, then prints
 *         "WOKE fd=C ret=R errno=E" and exits 0;
 *   poll  poll(client, POLLIN) likewise ("WOKE fd=C ret=R errno=E revents=0xNN");
 *   pause pause() forever (SIGTERM ends it).
 * --threads N starts N extra threads that sleep in pause(), for tests that
 * need a multi-threaded process.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "blocker: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = "recv";
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else
            mode = argv[i];
    }
    if (strcmp(mode, "recv") && strcmp(mode, "poll") && strcmp(mode, "pause")) {
        fprintf(stderr, "usage: blocker [recv|poll|pause] [--threads N]\n");
        return 2;
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

    for (int i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, sleeper, NULL) != 0)
            die("pthread_create");
    }

    printf("READY {\"pid\": %d, \"port\": %d, \"fds\": {\"listen\": %d, \"client\": %d, "
           "\"accepted\": %d}}\n", (int)getpid(), ntohs(a.sin_port), lfd, cfd, afd);
    fflush(stdout);

    if (strcmp(mode, "pause") == 0) {
        for (;;)
            pause();
    }
    if (strcmp(mode, "poll") == 0) {
        struct pollfd p = {cfd, POLLIN, 0};
        int ret = poll(&p, 1, -1);
        int err = ret < 0 ? errno : 0;
        printf("WOKE fd=%d ret=%d errno=%d revents=0x%x\n", cfd, ret, err, p.revents);
        fflush(stdout);
        return 0;
    }
    char buf[64];
    ssize_t ret = recv(cfd, buf, sizeof buf, 0);
    int err = ret < 0 ? errno : 0;
    printf("WOKE fd=%d ret=%zd errno=%d\n", cfd, ret, err);
    fflush(stdout);
    return 0;
}
