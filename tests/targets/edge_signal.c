/* edge_signal: a thread blocked in recv() with a SIGUSR1 handler installed.
 *
 * Prints READY {"pid": P, "fd": C, "peer": A} (a loopback TCP pair, client
 * fd C), then blocks in recv(C).  The handler prints "HANDLED"; each
 * return of recv prints "RECV ret=R errno=E", and recv is called again
 * after an interruption (EINTR), as a real server would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void handler(int sig)
{
    (void)sig;
    static const char text[] = "HANDLED\n";
    write(1, text, sizeof text - 1);
}

int main(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;  /* no SA_RESTART: recv returns EINTR */
    sigaction(SIGUSR1, &action, NULL);
    setvbuf(stdout, NULL, _IONBF, 0);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (bind(listener, (void *)&addr, sizeof addr) || listen(listener, 1)
        || getsockname(listener, (void *)&addr, &len))
        return 2;
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (void *)&addr, sizeof addr))
        return 2;
    int accepted = accept(listener, NULL, NULL);
    printf("READY {\"pid\": %d, \"fd\": %d, \"peer\": %d}\n", (int)getpid(), client, accepted);
    for (;;) {
        char buf[16];
        errno = 0;
        ssize_t got = recv(client, buf, sizeof buf, 0);
        printf("RECV ret=%zd errno=%d\n", got, errno);
        if (got == 0 || (got < 0 && errno != EINTR))
            return 0;
    }
}
