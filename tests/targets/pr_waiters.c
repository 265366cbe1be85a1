/* pr_waiters: a thread blocked on a loopback TCP connection in one of the
 * ways whose outcome sock-shutdown predicts (issue 13).
 *
 * Usage: pr_waiters MODE
 *
 * Opens a listener, a client connected to it and the accepted end (the
 * peer, which never reads), and a control pipe; prints
 *
 *   READY {"pid": N, "fd": C, "peer": A, "ctl": R, "port": P}
 *
 * (C the client, A the accepted end, R the read end of the control pipe;
 * the test writes to /proc/N/fd/R+1 to wake a waiter that shutdown did
 * not wake), then in the main thread, by MODE:
 *
 *   write-default  write() 64 KiB at a time on C until it fails, SIGPIPE
 *                  at its default action: blocks once the buffers are full;
 *   write-ignore   the same with SIGPIPE ignored;
 *   write-catch    the same with a SIGPIPE handler (prints CAUGHT);
 *   send-nosignal  the same with send(..., MSG_NOSIGNAL).
 *   write-dup      write-default on a dup of C (READY adds "dup": D).
 *                  On failure they print "FAILED errno=E" and exit 0.
 *   urgent         pselect6: C in the except set only, the control pipe in
 *                  the read set; prints "WOKE ctl=0|1 except=0|1" and exits.
 *   epollout       fills C's buffers, then epoll_wait with C registered for
 *                  EPOLLOUT only and the control pipe for EPOLLIN; EINTR
 *                  (gdb's attach) is retried silently.  On a wake it prints
 *                  "WOKE ctl=0|1 sock=0xEVENTS"; if C is writable it then
 *                  writes to it, prints "FAILED errno=E" when that fails
 *                  (SIGPIPE default) and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_sigpipe(int sig)
{
    (void)sig;
    caught = 1;
}

static void die(const char *what)
{
    fprintf(stderr, "pr_waiters: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void fill(int fd)
{
    static char buf[65536];
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    while (send(fd, buf, sizeof buf, 0) > 0)
        ;
    if (errno != EAGAIN)
        die("fill");
    fcntl(fd, F_SETFL, flags);
}

static int write_until_failure(int fd, const char *mode)
{
    static char buf[65536];
    for (;;) {
        ssize_t n;
        if (strcmp(mode, "send-nosignal") == 0)
            n = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
        else
            n = write(fd, buf, sizeof buf);
        if (n < 0) {
            int err = errno;
            if (caught)
                printf("CAUGHT\n");
            printf("FAILED errno=%d\n", err);
            fflush(stdout);
            return 0;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    const char *mode = argv[1];
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
    close(lfd);
    int ctl[2];
    if (pipe(ctl) < 0)
        die("pipe");

    int dfd = -1;
    if (strcmp(mode, "write-dup") == 0) {
        dfd = dup(cfd);
        mode = "write-default";
    }
    if (strcmp(mode, "write-default") == 0 || strcmp(mode, "send-nosignal") == 0)
        signal(SIGPIPE, SIG_DFL);
    else if (strcmp(mode, "write-ignore") == 0)
        signal(SIGPIPE, SIG_IGN);
    else if (strcmp(mode, "write-catch") == 0)
        signal(SIGPIPE, on_sigpipe);
    else if (strcmp(mode, "urgent") && strcmp(mode, "epollout"))
        return 2;
    if (strcmp(mode, "epollout") == 0)
        fill(cfd);

    printf("READY {\"pid\": %d, \"fd\": %d, \"peer\": %d, \"ctl\": %d, \"port\": %d, "
           "\"dup\": %d}\n", (int)getpid(), cfd, afd, ctl[0], ntohs(a.sin_port), dfd);
    fflush(stdout);

    if (strncmp(mode, "write", 5) == 0 || strcmp(mode, "send-nosignal") == 0)
        return write_until_failure(dfd >= 0 ? dfd : cfd, mode);

    if (strcmp(mode, "urgent") == 0) {
        fd_set r, x;
        int ret;
        do {
            FD_ZERO(&r);
            FD_ZERO(&x);
            FD_SET(ctl[0], &r);
            FD_SET(cfd, &x);
            ret = pselect(cfd > ctl[0] ? cfd + 1 : ctl[0] + 1, &r, NULL, &x, NULL, NULL);
        } while (ret < 0 && errno == EINTR);
        if (ret < 0)
            die("pselect");
        printf("WOKE ctl=%d except=%d\n", FD_ISSET(ctl[0], &r) ? 1 : 0,
               FD_ISSET(cfd, &x) ? 1 : 0);
        fflush(stdout);
        return 0;
    }

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = cfd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) < 0)
        die("epoll_ctl");
    ev.events = EPOLLIN;
    ev.data.fd = ctl[0];
    if (epoll_ctl(ep, EPOLL_CTL_ADD, ctl[0], &ev) < 0)
        die("epoll_ctl");
    struct epoll_event got[2];
    int n;
    do
        n = epoll_wait(ep, got, 2, -1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        die("epoll_wait");
    int woke_ctl = 0;
    unsigned sock = 0;
    for (int i = 0; i < n; i++) {
        if (got[i].data.fd == ctl[0])
            woke_ctl = 1;
        else
            sock = got[i].events;
    }
    printf("WOKE ctl=%d sock=0x%x\n", woke_ctl, sock);
    fflush(stdout);
    if (sock & EPOLLOUT)
        return write_until_failure(cfd, "write-default");
    return 0;
}
