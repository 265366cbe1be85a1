/* ref_sockets: the floor of `info sockets`' work, in C, for bench/scale.py.
 *
 * Built by the bench (cc -O2) into a temporary directory; never shipped,
 * never loaded by gdb_sockets.  It does, single-threaded, the work that
 * `info sockets` does for a process on this host:
 *
 *   1. read /proc/PID/fd: list it, readlink every entry, keep the
 *      "socket:[INODE]" ones (sorted by fd);
 *   2. sock_diag dumps of TCP, TCPv6, UDP, UDPv6 (the states of sockets
 *      that have an fd, as gdb_sockets asks) and UNIX (name, peer, queues),
 *      joined to the fds by inode through a hash table;
 *   3. the threads' /proc/PID/task/TID/syscall (what the Notes column's
 *      waiters start from);
 *   4. a socket in no dump: its protocol from the system.sockprotoname
 *      attribute of its fd link;
 *   5. the table, formatted as `info sockets` prints it (columns padded
 *      to their widest cell, two spaces apart, the last one unpadded), and
 *      written to stdout in one write.
 *
 * Usage: ref_sockets PID [--links-only]
 *   --links-only  step 1 alone (no dumps, no table): the cost of the links.
 *
 * On stderr: "REF_MS <ms> <sockets>", the time of steps 1-5 measured with
 * CLOCK_MONOTONIC inside the process (no exec or start-up), which is what
 * the bench compares with the time of `info sockets` measured inside gdb.
 *
 * For the bench's targets (TCP over loopback) the table is byte for byte
 * the one `info sockets` prints (bench/scale.py checks it).  For other
 * sockets it is close, not identical: UNIX names are escaped more simply,
 * and a unix peer's path is only found when the peer is in the dump.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

struct fdent { int fd; uint32_t inode; };

struct rec {
    uint32_t inode;        /* 0: empty slot */
    uint8_t family, state, type, has_q;
    uint16_t sport, dport;
    uint8_t src[16], dst[16];
    uint32_t rq, wq, peer;
    const char *proto;
    char *name;            /* unix: the path as gdb_sockets prints it */
};

static struct rec *table;
static uint32_t table_mask;

static void die(const char *what)
{
    fprintf(stderr, "ref_sockets: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct rec *slot(uint32_t inode)
{
    uint32_t h = (inode * 2654435761u) & table_mask;
    while (table[h].inode && table[h].inode != inode)
        h = (h + 1) & table_mask;
    return &table[h];
}

static int by_fd(const void *a, const void *b)
{
    return ((const struct fdent *)a)->fd - ((const struct fdent *)b)->fd;
}

static const char *state_name(int s)
{
    static const char *names[] = {"?", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1",
                                  "FIN-WAIT-2", "TIME-WAIT", "UNCONN", "CLOSE-WAIT",
                                  "LAST-ACK", "LISTEN", "CLOSING", "SYN-RECV"};
    static char other[32];
    if (s >= 1 && s <= 12)
        return names[s];
    snprintf(other, sizeof other, "UNKNOWN(%d)", s);
    return other;
}

/* -------------------------------------------------------------------- dumps */

static int nl;
static char buf[1 << 16];

static void send_req(void *req, size_t len)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (sendto(nl, req, len, 0, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("sendto");
}

static char *unix_path(const char *name, int len)
{
    char *out = malloc(4 * len + 2), *p = out;
    for (int i = 0; i < len; i++) {
        unsigned char c = name[i];
        if (c == 0 && i == 0)
            *p++ = '@';
        else if (c == 0 && name[0] != 0)
            break;
        else if (c == 0)
            *p++ = '@';
        else if (c == '\\')
            p += sprintf(p, "\\\\");
        else if (c == '\n')
            p += sprintf(p, "\\n");
        else if (c < 0x20 || c >= 0x7f)
            p += sprintf(p, "\\x%02x", c);
        else
            *p++ = c;
    }
    *p = 0;
    return out;
}

/* One dump; keep the messages of wanted inodes (those with a slot). */
static void dump(int family, int protocol, const char *proto)
{
    struct {
        struct nlmsghdr nh;
        union {
            struct inet_diag_req_v2 inet;
            struct unix_diag_req unix_;
        } r;
    } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = 1;
    if (family == AF_UNIX) {
        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.r.unix_);
        req.r.unix_.sdiag_family = AF_UNIX;
        req.r.unix_.udiag_states = 0xffffffff;
        req.r.unix_.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN;
        req.r.unix_.udiag_cookie[0] = req.r.unix_.udiag_cookie[1] = INET_DIAG_NOCOOKIE;
    } else {
        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.r.inet);
        req.r.inet.sdiag_family = family;
        req.r.inet.sdiag_protocol = protocol;
        /* ESTABLISHED..CLOSING without TIME-WAIT: the states with an fd */
        req.r.inet.idiag_states = ((1u << 12) - 1) & ~((1u << 0) | (1u << 6));
        req.r.inet.id.idiag_cookie[0] = req.r.inet.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    }
    send_req(&req, req.nh.nlmsg_len);
    for (;;) {
        ssize_t n = recv(nl, buf, sizeof buf, 0);
        if (n < 0)
            die("recv");
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE)
                return;
            if (h->nlmsg_type == NLMSG_ERROR) {
                errno = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
                if (errno)
                    die("sock_diag dump");
                return;
            }
            if (family != AF_UNIX) {
                struct inet_diag_msg *m = NLMSG_DATA(h);
                struct rec *r = slot(m->idiag_inode);
                if (!r->inode)
                    continue;
                r->family = m->idiag_family;
                r->state = m->idiag_state;
                r->sport = ntohs(m->id.idiag_sport);
                r->dport = ntohs(m->id.idiag_dport);
                memcpy(r->src, m->id.idiag_src, 16);
                memcpy(r->dst, m->id.idiag_dst, 16);
                r->rq = m->idiag_rqueue;
                r->wq = m->idiag_wqueue;
                r->has_q = 1;
                r->proto = proto;
            } else {
                struct unix_diag_msg *m = NLMSG_DATA(h);
                struct rec *r = slot(m->udiag_ino);
                if (!r->inode)
                    continue;
                r->family = AF_UNIX;
                r->state = m->udiag_state;
                r->type = m->udiag_type;
                r->proto = proto;
                int len = h->nlmsg_len - NLMSG_LENGTH(sizeof *m);
                for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                    if (a->rta_type == UNIX_DIAG_NAME)
                        r->name = unix_path(RTA_DATA(a), RTA_PAYLOAD(a));
                    else if (a->rta_type == UNIX_DIAG_PEER)
                        r->peer = *(uint32_t *)RTA_DATA(a);
                    else if (a->rta_type == UNIX_DIAG_RQLEN) {
                        struct unix_diag_rqlen *q = RTA_DATA(a);
                        r->rq = q->udiag_rqueue;
                        r->wq = q->udiag_wqueue;
                        r->has_q = 1;
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------------- table */

static char *out;
static size_t out_len, out_cap;

static void put(const char *s, size_t n)
{
    if (out_len + n > out_cap) {
        out_cap = (out_len + n) * 2;
        out = realloc(out, out_cap);
    }
    memcpy(out + out_len, s, n);
    out_len += n;
}

static void endpoint(char *dst, int family, const uint8_t *addr, int port)
{
    char host[INET6_ADDRSTRLEN + 2], text[INET6_ADDRSTRLEN];
    static const uint8_t zero[16];
    if (family == AF_INET ? !memcmp(addr, zero, 4) : !memcmp(addr, zero, 16))
        strcpy(host, "*");
    else if (family == AF_INET)
        inet_ntop(AF_INET, addr, host, sizeof host);
    else {
        inet_ntop(AF_INET6, addr, text, sizeof text);
        snprintf(host, sizeof host, "[%s]", text);
    }
    if (port)
        sprintf(dst, "%s:%d", host, port);
    else
        sprintf(dst, "%s:*", host);
}

#define NCOL 8

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ref_sockets PID [--links-only]\n");
        return 2;
    }
    int pid = atoi(argv[1]);
    int links_only = argc > 2 && strcmp(argv[2], "--links-only") == 0;
    char path[64];

    double t0 = now_ms();
    /* 1. the fd links */
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *dir = opendir(path);
    if (!dir)
        die(path);
    int dfd = dirfd(dir);
    size_t nfds = 0, cap = 1024;
    struct fdent *fds = malloc(cap * sizeof *fds);
    struct dirent *de;
    char link[64];
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        ssize_t n = readlinkat(dfd, de->d_name, link, sizeof link - 1);
        if (n < 9 || memcmp(link, "socket:[", 8))
            continue;
        link[n] = 0;
        if (nfds == cap)
            fds = realloc(fds, (cap *= 2) * sizeof *fds);
        fds[nfds].fd = atoi(de->d_name);
        fds[nfds].inode = strtoul(link + 8, NULL, 10);
        nfds++;
    }
    qsort(fds, nfds, sizeof *fds, by_fd);
    if (links_only) {
        double t1 = now_ms();
        fprintf(stderr, "REF_MS %.3f %zu\n", t1 - t0, nfds);
        return 0;
    }

    /* 2. the dumps, joined through a hash of the wanted inodes */
    uint32_t size = 1024;
    while (size < 2 * nfds)
        size <<= 1;
    table = calloc(size, sizeof *table);
    table_mask = size - 1;
    for (size_t i = 0; i < nfds; i++)
        slot(fds[i].inode)->inode = fds[i].inode;
    nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        die("netlink socket");
    int rcvbuf = 1 << 20;
    setsockopt(nl, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    dump(AF_INET, IPPROTO_TCP, "tcp");
    dump(AF_INET6, IPPROTO_TCP, "tcp6");
    dump(AF_INET, IPPROTO_UDP, "udp");
    dump(AF_INET6, IPPROTO_UDP, "udp6");
    dump(AF_UNIX, 0, "unix");

    /* 3. the threads' system calls */
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *tasks = opendir(path);
    if (tasks) {
        char sys[256], file[320];
        while ((de = readdir(tasks))) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(file, sizeof file, "/proc/%d/task/%s/syscall", pid, de->d_name);
            int f = open(file, O_RDONLY | O_CLOEXEC);
            if (f >= 0) {
                if (read(f, sys, sizeof sys) < 0)
                    sys[0] = 0;
                close(f);
            }
        }
        closedir(tasks);
    }

    /* 4 and 5. the rows, the widths, the table */
    static const char *header[NCOL] = {"FD", "Proto", "State", "Recv-Q", "Send-Q",
                                       "Local", "Peer", "Inode"};
    size_t width[NCOL];
    for (int c = 0; c < NCOL; c++)
        width[c] = strlen(header[c]);
    char (*cells)[NCOL][80] = malloc(nfds * sizeof *cells);
    for (size_t i = 0; i < nfds; i++) {
        struct rec *r = slot(fds[i].inode);
        char (*row)[80] = cells[i];
        sprintf(row[0], "%d", fds[i].fd);
        sprintf(row[7], "%u", fds[i].inode);
        if (!r->proto) {
            char name[64] = "";
            snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fds[i].fd);
            ssize_t n = getxattr(path, "system.sockprotoname", name, sizeof name - 1);
            name[n > 0 ? n : 0] = 0;
            for (char *p = name; *p; p++)
                *p = *p >= 'A' && *p <= 'Z' ? *p + 32 : *p;
            size_t len = strlen(name);
            if (len > 2 && !strcmp(name + len - 2, "v6"))
                strcpy(name + len - 2, "6");
            int unconn = !strcmp(name, "tcp") || !strcmp(name, "tcp6") || !strcmp(name, "udp")
                         || !strcmp(name, "udp6");
            snprintf(row[1], 80, "%s", name[0] ? name : "unknown");
            strcpy(row[2], unconn ? "UNCONN" : "?");
            strcpy(row[3], "-");
            strcpy(row[4], "-");
            strcpy(row[5], "-");
            strcpy(row[6], "-");
        } else if (r->family == AF_UNIX) {
            strcpy(row[1], "unix");
            strcpy(row[2], state_name(r->state));
            if (r->has_q) {
                sprintf(row[3], "%u", r->rq);
                sprintf(row[4], "%u", r->wq);
            } else {
                strcpy(row[3], "-");
                strcpy(row[4], "-");
            }
            snprintf(row[5], 80, "%s", r->name ? r->name : "*");
            if (!r->peer)
                strcpy(row[6], "*");
            else {
                struct rec *p = slot(r->peer);
                snprintf(row[6], 80, "%s (peer %u)", p->inode && p->name ? p->name : "*", r->peer);
            }
        } else {
            strcpy(row[1], r->proto);
            strcpy(row[2], state_name(r->state));
            sprintf(row[3], "%u", r->rq);
            sprintf(row[4], "%u", r->wq);
            endpoint(row[5], r->family, r->src, r->sport);
            endpoint(row[6], r->family, r->dst, r->dport);
        }
        for (int c = 0; c < NCOL; c++) {
            size_t len = strlen(row[c]);
            if (len > width[c])
                width[c] = len;
        }
    }
    char line[1024];
    for (size_t i = 0; i <= nfds; i++) {
        int n = 0;
        for (int c = 0; c < NCOL; c++) {
            const char *cell = i == 0 ? header[c] : cells[i - 1][c];
            if (c < NCOL - 1)
                n += sprintf(line + n, "%-*s  ", (int)width[c], cell);
            else
                n += sprintf(line + n, "%s", cell);
        }
        while (n > 0 && line[n - 1] == ' ')
            n--;
        line[n++] = '\n';
        put(line, n);
    }
    for (size_t off = 0; off < out_len;) {
        ssize_t n = write(1, out + off, out_len - off);
        if (n < 0)
            die("write");
        off += n;
    }
    double t1 = now_ms();
    fprintf(stderr, "REF_MS %.3f %zu\n", t1 - t0, nfds);
    return 0;
}
