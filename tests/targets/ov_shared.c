/* ov_shared: one socket shared three ways, and threads waiting on sockets.
 *
 * A loopback TCP pair: the client fd is dup()ed in this process and also
 * inherited by a forked child that pauses.  The main thread blocks in
 * recv(client); a second thread blocks in poll() on the accepted end.
 * Prints
 *
 *   READY {"pid": P, "child": C, "tid_recv": T1, "tid_poll": T2,
 *          "fds": {"listen": L, "client": A, "dup": D, "accepted": B}}
 *
 * then prints "WOKE ret=R" when recv returns, and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int accepted;
static volatile pid_t poll_tid;

static void die(const char *what)
{
    fprintf(stderr, "ov_shared: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *poller(void *arg)
{
    (void)arg;
    poll_tid = (pid_t)syscall(SYS_gettid);
    struct pollfd p = {.fd = accepted, .events = POLLIN};
    for (;;)
        poll(&p, 1, -1);
    return NULL;
}

int main(void)
{
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (listener < 0 || bind(listener, (void *)&addr, sizeof addr) || listen(listener, 4)
        || getsockname(listener, (void *)&addr, &len))
        die("listener");
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (void *)&addr, sizeof addr))
        die("connect");
    accepted = accept(listener, NULL, NULL);
    int dup_fd = dup(client);
    if (accepted < 0 || dup_fd < 0)
        die("accept/dup");
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;)
            pause();
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, poller, NULL))
        die("pthread_create");
    while (!poll_tid)
        usleep(1000);
    /* Let the poller reach poll() before saying READY. */
    char path[64], wchan[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)poll_tid);
    for (int i = 0; i < 5000; i++) {
        FILE *f = fopen(path, "r");
        if (f && fgets(wchan, sizeof wchan, f) && strncmp(wchan, "7 ", 2) == 0) {
            fclose(f);
            break;
        }
        if (f)
            fclose(f);
        usleep(1000);
    }
    printf("READY {\"pid\": %d, \"child\": %d, \"tid_recv\": %d, \"tid_poll\": %d, "
           "\"fds\": {\"listen\": %d, \"client\": %d, \"dup\": %d, \"accepted\": %d}}\n",
           (int)getpid(), (int)child, (int)getpid(), (int)poll_tid, listener, client, dup_fd,
           accepted);
    fflush(stdout);
    char buf[16];
    ssize_t got = recv(client, buf, sizeof buf, 0);
    printf("WOKE ret=%zd\n", got);
    fflush(stdout);
    kill(child, SIGKILL);
    return 0;
}
