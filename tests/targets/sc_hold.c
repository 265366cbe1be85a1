/* sc_hold: hold many loopback TCP sockets, for scale tests and bench/scale.py.
 *
 * Usage: sc_hold N ADDR [--udp K] [--fresh K]
 *
 * Opens a TCP listener on ADDR (an IPv4 loopback address such as
 * 127.0.3.1; the kernel picks the port) and connects to it from this same
 * process until it holds N TCP sockets: the listener, then pairs of a
 * client and its accepted end (N even leaves one client whose connection
 * waits in the listener's accept queue).  --udp K adds K bound UDP sockets
 * on ADDR, --fresh K adds K TCP sockets that are never bound (in no
 * table).  RLIMIT_NOFILE is raised as far as needed; it exits 3 when
 * even the hard limit is too low (raising it needs CAP_SYS_RESOURCE).
 *
 * Every socket gets SO_LINGER {1, 0}: when the process ends its
 * connections are reset, so no TIME-WAIT entries outlive it.
 *
 * When everything is in place it prints one line
 *
 *   READY {"pid": N, "port": P, "sockets": COUNT, "first_fd": FD, "last_fd": FD}
 *
 * and sleeps in pause(); SIGTERM/SIGINT end it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "sc_hold: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int first_fd = -1, last_fd = -1, count;

static int track(int fd)
{
    struct linger lg = {1, 0};
    if (fd < 0)
        die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0)
        die("SO_LINGER");
    if (first_fd < 0)
        first_fd = fd;
    last_fd = fd;
    count++;
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sc_hold N ADDR [--udp K] [--fresh K]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *addr = argv[2];
    int udp = 0, fresh = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--udp") == 0)
            udp = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--fresh") == 0)
            fresh = atoi(argv[i + 1]);
    }

    struct rlimit rl;
    rlim_t need = (rlim_t)n + udp + fresh + 16;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        /* Past the hard limit only with CAP_SYS_RESOURCE; try, then settle. */
        struct rlimit want = {need, rl.rlim_max > need ? rl.rlim_max : need};
        if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                die("setrlimit RLIMIT_NOFILE");
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
            fprintf(stderr, "sc_hold: %d sockets need %lu fds; RLIMIT_NOFILE allows %lu\n",
                    n + udp + fresh, (unsigned long)need, (unsigned long)rl.rlim_cur);
            return 3;
        }
    }

    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "sc_hold: bad address %s\n", addr);
        return 2;
    }
    int lfd = track(socket(AF_INET, SOCK_STREAM, 0));
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("bind");
    if (listen(lfd, 4096) < 0)
        die("listen");
    if (getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
        die("getsockname");

    while (count < n) {
        int c = track(socket(AF_INET, SOCK_STREAM, 0));
        if (connect(c, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("connect");
        if (count < n) {
            int a = accept(lfd, NULL, NULL);
            if (a < 0)
                die("accept");
            track(a);
        }
    }
    for (int i = 0; i < udp; i++) {
        struct sockaddr_in u = sa;
        u.sin_port = 0;
        int fd = track(socket(AF_INET, SOCK_DGRAM, 0));
        if (bind(fd, (struct sockaddr *)&u, sizeof u) < 0)
            die("bind udp");
    }
    for (int i = 0; i < fresh; i++)
        track(socket(AF_INET, SOCK_STREAM, 0));

    printf("READY {\"pid\": %d, \"port\": %d, \"sockets\": %d, \"first_fd\": %d, "
           "\"last_fd\": %d}\n", (int)getpid(), ntohs(sa.sin_port), count, first_fd, last_fd);
    fflush(stdout);
    for (;;)
        pause();
}
