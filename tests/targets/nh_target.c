/* nh_target: a thread blocked in recv() and one busy thread, for the
 * "never harm the target" tests (tests/gdb/test_never_harm.py).
 *
 * Usage: nh_target [--seccomp trap|errno|kill] [--dlopen PATH] [--sud-busy]
 *
 * Sets up a loopback TCP pair (listener, client, accepted end), starts one
 * thread spinning in user code, then:
 *   --seccomp trap   installs a seccomp filter returning SECCOMP_RET_TRAP for
 *                    shutdown(2) (a sandbox: the call raises SIGSYS, whose
 *                    default action kills the process);
 *   --seccomp errno  the same with SECCOMP_RET_ERRNO(EPERM);
 *   --sud-busy       the busy thread turns on syscall user dispatch
 *                    (PR_SET_SYSCALL_USER_DISPATCH, as Wine and emulators
 *                    do) with its selector at BLOCK: any system call it
 *                    makes raises SIGSYS (si_code SYS_USER_DISPATCH), which
 *                    kills the process; the thread itself makes none;
 *   --dlopen PATH    dlopen()s PATH (RTLD_NOW|RTLD_LOCAL), e.g. a second
 *                    library named libc.so.6 (nh_impostor.c).
 * Prints
 *   READY {"pid": P, "blocked_tid": T, "busy_tid": B, "port": PORT,
 *          "fds": {"listen": L, "client": C, "accepted": A}}
 * and the main thread waits in recv(client), with 0x89abcdef in the low
 * 32 bits of xmm15 (a value that reads differently in decimal and hex).  When recv returns it prints
 *   "WOKE ret=R errno=E"
 * and then "SPIN ok" if the busy thread kept going with its invariants
 * intact ("SPIN stuck" / "SPIN corrupt" otherwise), and stays in pause().
 * A SIGSYS or any fatal signal kills it as usual (the tests look at that).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long progress;
static volatile int corrupt;
static volatile pid_t busy_tid;
static int sud_busy;
static volatile char sud_selector;

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#endif

static void allowed_region(void)
{
}

static void die(const char *what)
{
    fprintf(stderr, "nh_target: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *spinner(void *arg)
{
    (void)arg;
    unsigned long a = 0, b = 0, c = 7;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (sud_busy) {
        if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
                  (unsigned long)allowed_region, 1UL, (unsigned long)&sud_selector) != 0)
            die("PR_SET_SYSCALL_USER_DISPATCH");
        sud_selector = 1; /* SYSCALL_DISPATCH_FILTER_BLOCK */
    }
    busy_tid = tid;
    for (;;) {
        a += 3;
        b += 1;
        c ^= a;
        c ^= a;
        if (a != 3 * b || c != 7)
            corrupt = 1;
        progress++;
    }
    return NULL;
}

static void install_seccomp(const char *mode)
{
    unsigned int action;
    if (strcmp(mode, "trap") == 0)
        action = SECCOMP_RET_TRAP;
    else if (strcmp(mode, "errno") == 0)
        action = SECCOMP_RET_ERRNO | EPERM;
    else if (strcmp(mode, "kill") == 0)
        action = SECCOMP_RET_KILL_PROCESS;
    else {
        fprintf(stderr, "nh_target: unknown seccomp mode %s\n", mode);
        exit(2);
    }
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_shutdown, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("PR_SET_NO_NEW_PRIVS");
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
        die("seccomp");
}

int main(int argc, char **argv)
{
    const char *seccomp_mode = NULL, *dl = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seccomp") == 0 && i + 1 < argc)
            seccomp_mode = argv[++i];
        else if (strcmp(argv[i], "--dlopen") == 0 && i + 1 < argc)
            dl = argv[++i];
        else if (strcmp(argv[i], "--sud-busy") == 0)
            sud_busy = 1;
        else {
            fprintf(stderr, "usage: nh_target [--seccomp trap|errno|kill] [--dlopen PATH] [--sud-busy]\n");
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
    if (dl && !dlopen(dl, RTLD_NOW | RTLD_LOCAL)) {
        fprintf(stderr, "nh_target: dlopen %s: %s\n", dl, dlerror());
        return 2;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, spinner, NULL) != 0)
        die("pthread_create");
    while (!busy_tid || progress < 1000)
        ;
    if (seccomp_mode)
        install_seccomp(seccomp_mode);

    printf("READY {\"pid\": %d, \"blocked_tid\": %d, \"busy_tid\": %d, \"port\": %d, "
           "\"fds\": {\"listen\": %d, \"client\": %d, \"accepted\": %d}}\n",
           (int)getpid(), (int)getpid(), (int)busy_tid, ntohs(a.sin_port), lfd, cfd, afd);
    fflush(stdout);

    char buf[64];
    __asm__ volatile("movq %0, %%xmm15" : : "r"(0x0123456789abcdefULL) : "xmm15");
    ssize_t ret = recv(cfd, buf, sizeof buf, 0);
    int err = ret < 0 ? errno : 0;
    printf("WOKE ret=%zd errno=%d\n", ret, err);
    fflush(stdout);
    unsigned long before = progress;
    struct timespec d = {0, 200 * 1000000L};
    nanosleep(&d, NULL);
    printf("SPIN %s\n", corrupt ? "corrupt" : progress > before ? "ok" : "stuck");
    fflush(stdout);
    for (;;)
        pause();
}
