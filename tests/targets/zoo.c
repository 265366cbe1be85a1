/* zoo: one socket of each kind, then pause() forever.
 *
 * Usage: zoo DIR [--ping]
 *
 * DIR is a directory for the UNIX socket paths.  --ping also opens ICMP
 * datagram ("ping") sockets, which need the process's gid inside
 * /proc/sys/net/ipv4/ping_group_range (tests set it in a private netns).
 *
 * When everything is in place it prints one line
 *
 *   READY {"pid": N, "dir": "...", "fds": {NAME: FD, ...},
 *          "socks": {NAME: {...}, ...}, "other": {NAME: FD, ...},
 *          "missing": {NAME: "why", ...}}
 *
 * "fds" has every fd the program opened on purpose (sockets and others),
 * "socks" what the program itself knows of each socket: its fd, inode
 * (fstat), family, type, protocol, and local/peer from getsockname /
 * getpeername (inet: {"address","port"}; unix: {"path"}, with abstract
 * names as '@' + name; packet: {"protocol","ifindex"}; netlink:
 * {"portid"}), plus "inq"/"outq" (FIONREAD / SIOCOUTQ) for stream
 * sockets.  "other" is the non-socket fds, which must never be listed.
 * A kind the kernel refuses (e.g. no udplite) goes to "missing" with the
 * errno text instead of failing the whole program.
 *
 * Then it sleeps in pause(); SIGTERM/SIGINT end it (default action).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

static char out[1 << 16];
static size_t out_len;

static void emit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + out_len, sizeof out - out_len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof out - out_len) {
        fprintf(stderr, "zoo: output too long\n");
        exit(2);
    }
    out_len += (size_t)n;
}

/* A JSON string from len bytes (non-ASCII and control bytes as \u00XX). */
static void emit_json_bytes(const char *s, size_t len)
{
    emit("\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            emit("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            emit("\\u%04x", c);
        else
            emit("%c", c);
    }
    emit("\"");
}

static void emit_json_str(const char *s) { emit_json_bytes(s, strlen(s)); }

static void die(const char *what)
{
    fprintf(stderr, "zoo: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* ---- the record of every fd we opened ---------------------------------- */

#define MAX_ENTRIES 64
struct entry {
    const char *name;
    int fd;
    int is_socket;
};
static struct entry entries[MAX_ENTRIES];
static int n_entries;

struct missing {
    const char *name;
    int err;
};
static struct missing missing[MAX_ENTRIES];
static int n_missing;

static void add(const char *name, int fd, int is_socket)
{
    entries[n_entries++] = (struct entry){name, fd, is_socket};
}

/* A socket the kernel may refuse: record why and go on. */
static int optional_socket(const char *name, int domain, int type, int proto)
{
    int fd = socket(domain, type, proto);
    if (fd < 0)
        missing[n_missing++] = (struct missing){name, errno};
    return fd;
}

static int must_socket(int domain, int type, int proto)
{
    int fd = socket(domain, type, proto);
    if (fd < 0)
        die("socket");
    return fd;
}

/* ---- describing an address --------------------------------------------- */

static void emit_addr(const struct sockaddr_storage *ss, socklen_t len)
{
    char buf[INET6_ADDRSTRLEN];
    switch (ss->ss_family) {
    case AF_INET: {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        emit("{\"address\": \"%s\", \"port\": %d}", buf, ntohs(a->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        emit("{\"address\": \"%s\", \"port\": %d}", buf, ntohs(a->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *a = (const void *)ss;
        size_t n = len > offsetof(struct sockaddr_un, sun_path)
                       ? len - offsetof(struct sockaddr_un, sun_path) : 0;
        emit("{\"path\": ");
        if (n == 0) {
            emit("null");
        } else if (a->sun_path[0] == '\0') {
            /* abstract: shown as '@' + name, as /proc/net/unix shows it */
            char name[sizeof a->sun_path + 1];
            name[0] = '@';
            memcpy(name + 1, a->sun_path + 1, n - 1);
            emit_json_bytes(name, n);
        } else {
            emit_json_bytes(a->sun_path, strnlen(a->sun_path, n));
        }
        emit("}");
        break;
    }
    case AF_PACKET: {
        const struct sockaddr_ll *a = (const void *)ss;
        emit("{\"protocol\": %d, \"ifindex\": %d}", ntohs(a->sll_protocol), a->sll_ifindex);
        break;
    }
    case AF_NETLINK: {
        const struct sockaddr_nl *a = (const void *)ss;
        emit("{\"portid\": %u}", a->nl_pid);
        break;
    }
    default:
        emit("{\"family\": %d}", ss->ss_family);
    }
}

static const char *family_name(int family)
{
    switch (family) {
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_UNIX: return "unix";
    case AF_PACKET: return "packet";
    case AF_NETLINK: return "netlink";
    }
    return "other";
}

static const char *type_name(int type)
{
    switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    case SOCK_RAW: return "raw";
    }
    return "other";
}

static void emit_socket(const char *name, int fd)
{
    struct stat st;
    int domain = 0, type = 0, proto = 0;
    socklen_t optlen = sizeof(int);
    if (fstat(fd, &st) < 0)
        die("fstat");
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &optlen);
    optlen = sizeof(int);
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen);
    optlen = sizeof(int);
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &optlen);

    emit("\"%s\": {\"fd\": %d, \"inode\": %lu, \"family\": \"%s\", \"type\": \"%s\", "
         "\"protocol\": %d",
         name, fd, (unsigned long)st.st_ino, family_name(domain), type_name(type), proto);

    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    emit(", \"local\": ");
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        emit_addr(&ss, len);
    else
        emit("null");

    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    emit(", \"peer\": ");
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        emit_addr(&ss, len);
    else
        emit("null");

    if (type == SOCK_STREAM && (domain == AF_INET || domain == AF_INET6)) {
        int inq = -1, outq = -1;
        ioctl(fd, SIOCINQ, &inq);
        ioctl(fd, SIOCOUTQ, &outq);
        emit(", \"inq\": %d, \"outq\": %d", inq, outq);
    }
    emit("}");
}

/* ---- helpers to build the sockets -------------------------------------- */

static void bind_inet(int fd, int family, const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (void *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, addr, &a->sin_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (void *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &a->sin6_addr);
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0)
        die("bind");
}

/* Connect fd to addr at the port `to` is bound to. */
static void connect_to(int fd, int to, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int port;
    if (getsockname(to, (struct sockaddr *)&ss, &len) < 0)
        die("getsockname");
    port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a = (void *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &a->sin6_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (void *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, addr, &a->sin_addr);
        len = sizeof *a;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) < 0)
        die("connect");
}

static int listen_inet(int family, const char *addr, int v6only)
{
    int fd = must_socket(family, SOCK_STREAM, 0);
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
        die("IPV6_V6ONLY");
    bind_inet(fd, family, addr, 0);
    if (listen(fd, 16) < 0)
        die("listen");
    return fd;
}

static void wait_for(int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    if (poll(&p, 1, 10000) != 1)
        die("poll");
}

/* Until everything we sent on a TCP socket is acknowledged, so that Send-Q
 * is 0 whenever anyone looks (loopback may delay its ACK a little). */
static void wait_acked(int fd)
{
    for (int i = 0; i < 2000; i++) {
        int outq = -1;
        if (ioctl(fd, SIOCOUTQ, &outq) < 0)
            die("SIOCOUTQ");
        if (outq == 0)
            return;
        usleep(1000);
    }
    fprintf(stderr, "zoo: data never acknowledged\n");
    exit(2);
}

static void send_all(int fd, const char *data)
{
    if (send(fd, data, strlen(data), 0) != (ssize_t)strlen(data))
        die("send");
}

/* A drop-everything classic BPF filter: packet sockets stay empty, so their
 * receive queue does not depend on the traffic on the machine. */
static void drop_all(int fd)
{
    struct sock_filter code[] = {{BPF_RET | BPF_K, 0, 0, 0}};
    struct sock_fprog prog = {1, code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
        die("SO_ATTACH_FILTER");
}

static void bind_packet(int fd, int protocol, int ifindex)
{
    struct sockaddr_ll a;
    memset(&a, 0, sizeof a);
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(protocol);
    a.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("bind packet");
}

/* ---- the zoo ------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: zoo DIR [--ping]\n");
        return 2;
    }
    const char *dir = argv[1];
    int want_ping = argc > 2 && strcmp(argv[2], "--ping") == 0;
    int fd, fd2, fd3;

    /* TCP over IPv4: a listener, a client that sent 5 bytes its accepted
     * end has not read, and the accepted end that sent 3 bytes back that
     * the client has not read either. */
    int tcp_listen = listen_inet(AF_INET, "127.0.0.1", 0);
    add("tcp_listen", tcp_listen, 1);
    fd = must_socket(AF_INET, SOCK_STREAM, 0);
    connect_to(fd, tcp_listen, "127.0.0.1");
    fd2 = accept(tcp_listen, NULL, NULL);
    if (fd2 < 0)
        die("accept");
    send_all(fd, "hello");
    send_all(fd2, "hey");
    wait_for(fd2, POLLIN);
    wait_for(fd, POLLIN);
    wait_acked(fd);
    wait_acked(fd2);
    add("tcp_client", fd, 1);
    add("tcp_accepted", fd2, 1);

    /* A connection the peer closed (after sending 1 byte): CLOSE-WAIT. */
    fd = must_socket(AF_INET, SOCK_STREAM, 0);
    connect_to(fd, tcp_listen, "127.0.0.1");
    fd2 = accept(tcp_listen, NULL, NULL);
    if (fd2 < 0)
        die("accept");
    send_all(fd2, "x");
    close(fd2);
    wait_for(fd, POLLRDHUP);
    add("tcp_close_wait", fd, 1);

    /* A second IPv4 listener with one connection waiting in its accept
     * queue (Recv-Q 1), never accepted. */
    int tcp_backlog = listen_inet(AF_INET, "127.0.0.1", 0);
    add("tcp_backlog", tcp_backlog, 1);
    fd = must_socket(AF_INET, SOCK_STREAM, 0);
    connect_to(fd, tcp_backlog, "127.0.0.1");
    wait_for(tcp_backlog, POLLIN);
    add("tcp_pending_client", fd, 1);

    /* TCP over IPv6 loopback. */
    int tcp6_listen = listen_inet(AF_INET6, "::1", 1);
    add("tcp6_listen", tcp6_listen, 1);
    fd = must_socket(AF_INET6, SOCK_STREAM, 0);
    connect_to(fd, tcp6_listen, "::1");
    fd2 = accept(tcp6_listen, NULL, NULL);
    if (fd2 < 0)
        die("accept6");
    add("tcp6_client", fd, 1);
    add("tcp6_accepted", fd2, 1);

    /* Dual-stack listener on :: and an IPv4 client it accepted, whose
     * accepted end sees the peer as ::ffff:127.0.0.1. */
    int dual_listen = listen_inet(AF_INET6, "::", 0);
    add("dual_listen", dual_listen, 1);
    fd = must_socket(AF_INET, SOCK_STREAM, 0);
    connect_to(fd, dual_listen, "127.0.0.1");
    fd2 = accept(dual_listen, NULL, NULL);
    if (fd2 < 0)
        die("accept dual");
    add("dual_client", fd, 1);
    add("dual_accepted", fd2, 1);

    /* UDP: bound and unconnected (one datagram queued), and connected. */
    int udp_bound = must_socket(AF_INET, SOCK_DGRAM, 0);
    bind_inet(udp_bound, AF_INET, "127.0.0.1", 0);
    fd = must_socket(AF_INET, SOCK_DGRAM, 0);
    connect_to(fd, udp_bound, "127.0.0.1");
    send_all(fd, "datagram");
    wait_for(udp_bound, POLLIN);
    add("udp_bound", udp_bound, 1);
    add("udp_connected", fd, 1);

    fd = must_socket(AF_INET6, SOCK_DGRAM, 0);
    bind_inet(fd, AF_INET6, "::1", 0);
    add("udp6_bound", fd, 1);

    fd = optional_socket("udplite", AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
    if (fd >= 0) {
        bind_inet(fd, AF_INET, "127.0.0.1", 0);
        add("udplite", fd, 1);
    }
    fd = optional_socket("udplite6", AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE);
    if (fd >= 0) {
        bind_inet(fd, AF_INET6, "::1", 0);
        add("udplite6", fd, 1);
    }

    /* Raw sockets: ICMP over IPv4, ICMPv6 over IPv6.  They would receive
     * every ICMP packet of the namespace: a drop-all filter keeps them
     * empty so their queues do not change while the tests look. */
    fd = must_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    drop_all(fd);
    add("raw", fd, 1);
    fd = must_socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    drop_all(fd);
    add("raw6", fd, 1);

    /* ICMP datagram ("ping") sockets, bound so that they are in the table. */
    if (want_ping) {
        fd = must_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
        bind_inet(fd, AF_INET, "127.0.0.1", 0);
        add("ping", fd, 1);
        fd = must_socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
        bind_inet(fd, AF_INET6, "::1", 0);
        add("ping6", fd, 1);
    }

    /* UNIX stream: a listener at a path with a space, a client, the
     * accepted end. */
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    if ((size_t)snprintf(un.sun_path, sizeof un.sun_path, "%s/zoo listen.sock", dir)
        >= sizeof un.sun_path) {
        fprintf(stderr, "zoo: DIR too long for a UNIX path\n");
        return 2;
    }
    unlink(un.sun_path);
    int unix_listen = must_socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(unix_listen, (struct sockaddr *)&un, sizeof un) < 0)
        die("bind unix");
    if (listen(unix_listen, 16) < 0)
        die("listen unix");
    fd = must_socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&un, sizeof un) < 0)
        die("connect unix");
    fd2 = accept(unix_listen, NULL, NULL);
    if (fd2 < 0)
        die("accept unix");
    send_all(fd, "unix!!");  /* 6 bytes waiting in the accepted end */
    add("unix_listen", unix_listen, 1);
    add("unix_client", fd, 1);
    add("unix_accepted", fd2, 1);

    /* UNIX datagram with an abstract name. */
    fd = must_socket(AF_UNIX, SOCK_DGRAM, 0);
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    int n = snprintf(un.sun_path + 1, sizeof un.sun_path - 1, "zoo-%d-dgram", (int)getpid());
    if (bind(fd, (struct sockaddr *)&un, offsetof(struct sockaddr_un, sun_path) + 1 + n) < 0)
        die("bind abstract");
    add("unix_abstract", fd, 1);

    /* UNIX seqpacket socketpair. */
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) < 0)
        die("socketpair");
    add("unix_pair_a", pair[0], 1);
    add("unix_pair_b", pair[1], 1);

    /* Packet sockets: ETH_P_ALL on every interface, and SOCK_DGRAM for
     * IPv4 on lo.  Made with protocol 0 (receives nothing), filtered, then
     * bound to their protocol, so nothing is ever queued. */
    fd = must_socket(AF_PACKET, SOCK_RAW, 0);
    drop_all(fd);
    bind_packet(fd, ETH_P_ALL, 0);
    add("packet_all", fd, 1);
    fd = must_socket(AF_PACKET, SOCK_DGRAM, 0);
    drop_all(fd);
    bind_packet(fd, ETH_P_IP, (int)if_nametoindex("lo"));
    add("packet_dgram_lo", fd, 1);

    /* Netlink route, bound (the kernel picks the port id). */
    fd = must_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    struct sockaddr_nl nl;
    memset(&nl, 0, sizeof nl);
    nl.nl_family = AF_NETLINK;
    if (bind(fd, (struct sockaddr *)&nl, sizeof nl) < 0)
        die("bind netlink");
    add("netlink_route", fd, 1);

    /* Sockets in no table: a fresh TCP socket and an unbound UDPv6 one. */
    add("tcp_fresh", must_socket(AF_INET, SOCK_STREAM, 0), 1);
    add("udp6_unbound", must_socket(AF_INET6, SOCK_DGRAM, 0), 1);

    /* Not sockets. */
    int pipefd[2];
    if (pipe(pipefd) < 0)
        die("pipe");
    add("pipe_r", pipefd[0], 0);
    add("pipe_w", pipefd[1], 0);
    fd = eventfd(0, 0);
    if (fd < 0)
        die("eventfd");
    add("eventfd", fd, 0);
    fd3 = epoll_create1(0);
    if (fd3 < 0)
        die("epoll_create1");
    add("epoll", fd3, 0);
    fd = open("/dev/null", O_RDONLY);
    if (fd < 0)
        die("/dev/null");
    add("devnull", fd, 0);

    /* The report. */
    emit("READY {\"pid\": %d, \"dir\": ", (int)getpid());
    emit_json_str(dir);
    emit(", \"fds\": {");
    for (int i = 0; i < n_entries; i++)
        emit("%s\"%s\": %d", i ? ", " : "", entries[i].name, entries[i].fd);
    emit("}, \"socks\": {");
    int first = 1;
    for (int i = 0; i < n_entries; i++) {
        if (!entries[i].is_socket)
            continue;
        if (!first)
            emit(", ");
        first = 0;
        emit_socket(entries[i].name, entries[i].fd);
    }
    emit("}, \"other\": {");
    first = 1;
    for (int i = 0; i < n_entries; i++) {
        if (entries[i].is_socket)
            continue;
        emit("%s\"%s\": %d", first ? "" : ", ", entries[i].name, entries[i].fd);
        first = 0;
    }
    emit("}, \"missing\": {");
    for (int i = 0; i < n_missing; i++) {
        emit("%s\"%s\": ", i ? ", " : "", missing[i].name);
        emit_json_str(strerror(missing[i].err));
    }
    emit("}}\n");
    fputs(out, stdout);
    fflush(stdout);

    for (;;)
        pause();
}
