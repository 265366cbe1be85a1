/* hang_shutdown: a thread blocked in recv() whose shutdown() never returns.
 *
 * Prints READY {"pid": P, "fd": C} (a loopback TCP pair, client fd C) and
 * blocks in recv(C).  A seccomp filter turns every shutdown(2) of this
 * process into SIGSYS, whose handler (SA_NODEFER, so the signal mask stays
 * as it was) waits in pause() forever: a call of shutdown() from a
 * debugger hangs until the debugger gives up.  Each return of recv prints
 * "RECV ret=R errno=E"; the program exits after a return that is not EINTR.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void hang(int sig)
{
    (void)sig;
    for (;;)
        pause();
}

static int trap_shutdown(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shutdown, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = hang;
    action.sa_flags = SA_NODEFER;
    sigaction(SIGSYS, &action, NULL);
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
    if (accept(listener, NULL, NULL) < 0 || trap_shutdown())
        return 2;
    printf("READY {\"pid\": %d, \"fd\": %d}\n", (int)getpid(), client);
    for (;;) {
        char buf[16];
        errno = 0;
        ssize_t got = recv(client, buf, sizeof buf, 0);
        printf("RECV ret=%zd errno=%d\n", got, errno);
        if (got == 0 || (got < 0 && errno != EINTR))
            return 0;
    }
}
