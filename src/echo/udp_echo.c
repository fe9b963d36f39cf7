#include "echo/udp_echo.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "runtime/runtime.h"

/*
 * The socket is watched with a uv_poll handle and read and written with
 * recvmmsg and sendmmsg: a batch of datagrams per system call each way, and
 * ancillary data libuv's uv_udp does not give: the address each datagram
 * was sent to (IP_PKTINFO, IPV6_RECVPKTINFO), so that the reply leaves from
 * it on a host with several addresses (a client's connected socket drops a
 * reply from any other), and the kernel's count of datagrams it dropped
 * because the receive queue was full (SO_RXQ_OVFL). A reply goes out from
 * the slot it was received into; when the socket's send buffer is full, the
 * replies left wait in their slots and reading stops until it drains.
 */

enum {
    BATCH = 32,
    /* The largest UDP payload is 65,507 bytes over IPv4 and 65,527 over
     * IPv6 (without jumbograms): every datagram fits a slot whole. */
    SLOT_SIZE = 65536,
    /* Batches read per wake-up before the loop sees to its other handles. */
    BATCHES_PER_WAKE = 8,
    WAYS = 4, /* the source table is set-associative */
    /* A kernel receive queue deep enough to ride out a burst while the loop
     * does other work; the kernel caps it at net.core.rmem_max. */
    RECEIVE_BUFFER = 1 << 20,
};

_Static_assert((ND_UDP_ECHO_SOURCES % WAYS) == 0, "whole sets");

/* Rate state of one source: IPv4 addresses whole (as ::ffff:a.b.c.d), IPv6
 * addresses by their /64, which one host can fill with addresses of its
 * own. Generic cell rate algorithm: next_ns is when the bucket is full
 * again; an unused entry (0) is a full bucket. */
struct source {
    uint8_t key[16];
    uint64_t full_at_ns;
};

union control {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint32_t))];
};

struct nd_udp_echo {
    struct nd_runtime *runtime;
    struct nd_udp_echo_config config;
    uv_poll_t poll;
    /* Bound to every address: a datagram's own destination must be read
     * (IP_PKTINFO) to answer from it, and may be a broadcast one. Bound
     * to one address, the socket sees nothing else and answers from it. */
    bool wildcard;
    uint16_t port;
    bool waiting_to_send; /* the socket's send buffer is full */
    uint64_t interval_ns, tolerance_ns;
    uint64_t hash_seed;
    struct source *sources;
    unsigned char *slots; /* BATCH datagrams of SLOT_SIZE */
    struct mmsghdr received[BATCH], replies[BATCH];
    struct iovec received_data[BATCH], reply_data[BATCH];
    struct sockaddr_storage peers[BATCH];
    union control received_control[BATCH], reply_control[BATCH];
    unsigned reply_start, reply_count; /* replies not sent yet */
    bool kernel_drops_counted;         /* SO_RXQ_OVFL is there (qemu-user lacks it) */
    uint32_t kernel_drops_seen;        /* SO_RXQ_OVFL's count, as last read */
    struct nd_runtime_done *stopped;
    atomic_bool receiving;
    atomic_uint_fast64_t datagrams_in, datagrams_out, bytes_in, bytes_out;
    atomic_uint_fast64_t dropped[ND_UDP_ECHO_DROP_COUNT];
};

/* Counts of one wake-up, added to the shared counters once. */
struct tally {
    uint64_t datagrams_in, datagrams_out, bytes_in, bytes_out;
    uint64_t dropped[ND_UDP_ECHO_DROP_COUNT];
};

static const char *const drop_names[ND_UDP_ECHO_DROP_COUNT] = {
    "rate_limited", "not_unicast", "loop_guard", "truncated", "send_failed", "queue_full"};

const char *nd_udp_echo_drop_name(enum nd_udp_echo_drop reason)
{
    return (unsigned)reason < ND_UDP_ECHO_DROP_COUNT ? drop_names[reason] : "unknown";
}

/* --- the rate limit --------------------------------------------------------- */

static void source_key(const struct sockaddr *peer, uint8_t key[16])
{
    memset(key, 0, 16);
    if (peer->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)peer)->sin_addr, 4);
        return;
    }
    const struct in6_addr *address = &((const struct sockaddr_in6 *)peer)->sin6_addr;
    memcpy(key, address, IN6_IS_ADDR_V4MAPPED(address) ? 16 : 8);
}

/* Seeded, so that nobody can aim many sources at one set from outside. */
static size_t source_set(const struct nd_udp_echo *echo, const uint8_t key[16])
{
    uint64_t high, low;
    memcpy(&high, key, 8);
    memcpy(&low, key + 8, 8);
    uint64_t hash = (high ^ echo->hash_seed) * 0x9e3779b97f4a7c15u;
    hash = (hash ^ (hash >> 29) ^ low) * 0xbf58476d1ce4e5b9u;
    hash ^= hash >> 32;
    return (size_t)(hash % (ND_UDP_ECHO_SOURCES / WAYS)) * WAYS;
}

/* The source's bucket, or the place for it: the way whose bucket fills
 * soonest (a full one is as good as none). */
static struct source *find_source(struct nd_udp_echo *echo, const uint8_t key[16])
{
    struct source *set = &echo->sources[source_set(echo, key)];
    struct source *oldest = &set[0];
    for (unsigned way = 0; way < WAYS; way++) {
        if (memcmp(set[way].key, key, 16) == 0)
            return &set[way];
        if (set[way].full_at_ns < oldest->full_at_ns)
            oldest = &set[way];
    }
    memcpy(oldest->key, key, 16);
    oldest->full_at_ns = 0;
    return oldest;
}

/* One datagram from peer at now_ns: true when its bucket has a token. */
static bool take_token(struct nd_udp_echo *echo, const struct sockaddr *peer, uint64_t now_ns)
{
    uint8_t key[16];
    source_key(peer, key);
    struct source *source = find_source(echo, key);
    uint64_t due = source->full_at_ns > now_ns ? source->full_at_ns : now_ns;
    if (due - now_ns > echo->tolerance_ns)
        return false;
    source->full_at_ns = due + echo->interval_ns;
    return true;
}

/* --- what may be echoed ------------------------------------------------------ */

static uint16_t peer_port(const struct sockaddr *peer)
{
    return ntohs(peer->sa_family == AF_INET ? ((const struct sockaddr_in *)peer)->sin_port
                                            : ((const struct sockaddr_in6 *)peer)->sin6_port);
}

/* Two services that answer every datagram, each the other's source, echo
 * one spoofed datagram between them for ever (the echo-chargen loop, CVE-
 * 1999-0103). As inetd does, no reply goes to the ports of such services,
 * nor to another echo on our own port, nor to port 0, where none can go. */
static bool loop_risk(const struct nd_udp_echo *echo, uint16_t port)
{
    switch (port) {
    case 0:
    case 7:  /* echo */
    case 13: /* daytime */
    case 17: /* qotd */
    case 19: /* chargen */
    case 37: /* time */
        return true;
    default:
        return port == echo->port;
    }
}

/* One item of ancillary data as the reply's whole control. */
static void set_control(struct msghdr *reply, union control *control, int level, int type,
                        const void *data, size_t size)
{
    reply->msg_control = control->bytes;
    reply->msg_controllen = CMSG_SPACE(size);
    struct cmsghdr *header = CMSG_FIRSTHDR(reply);
    header->cmsg_level = level;
    header->cmsg_type = type;
    header->cmsg_len = CMSG_LEN(size);
    memcpy(CMSG_DATA(header), data, size);
}

/* The reply's source: the address the datagram was sent to, as ancillary
 * data for sendmsg. False when that address is a broadcast or multicast
 * one: a reply from every host that heard it would multiply one spoofed
 * datagram into many (the "fraggle" attack). */
static bool reply_source(const struct msghdr *received, struct msghdr *reply,
                         union control *control)
{
    reply->msg_control = NULL;
    reply->msg_controllen = 0;
    for (struct cmsghdr *item = CMSG_FIRSTHDR(received); item;
         item = CMSG_NXTHDR((struct msghdr *)received, item)) {
        if (item->cmsg_level == IPPROTO_IP && item->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo info;
            memcpy(&info, CMSG_DATA(item), sizeof info);
            /* For a unicast datagram the kernel's spec_dst is the address it
             * was sent to; for a broadcast one, the interface's own. */
            uint32_t to = ntohl(info.ipi_addr.s_addr);
            if (IN_MULTICAST(to) || info.ipi_addr.s_addr != info.ipi_spec_dst.s_addr)
                return false;
            struct in_pktinfo out = {.ipi_ifindex = 0, .ipi_spec_dst = info.ipi_spec_dst};
            set_control(reply, control, IPPROTO_IP, IP_PKTINFO, &out, sizeof out);
            return true;
        }
        if (item->cmsg_level == IPPROTO_IPV6 && item->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo info;
            memcpy(&info, CMSG_DATA(item), sizeof info);
            if (IN6_IS_ADDR_MULTICAST(&info.ipi6_addr))
                return false;
            /* The interface matters for a link-local address only; for any
             * other, routing picks the way back. */
            if (!IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr))
                info.ipi6_ifindex = 0;
            set_control(reply, control, IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof info);
            return true;
        }
    }
    return true; /* no address given: the kernel picks, as it would anyway */
}

/* SO_RXQ_OVFL: the socket's running count of datagrams the kernel dropped
 * because the receive queue was full, carried by each datagram after one. */
static void note_kernel_drops(struct nd_udp_echo *echo, const struct msghdr *received,
                              struct tally *tally)
{
    for (struct cmsghdr *item = CMSG_FIRSTHDR(received); item;
         item = CMSG_NXTHDR((struct msghdr *)received, item)) {
        if (item->cmsg_level == SOL_SOCKET && item->cmsg_type == SO_RXQ_OVFL) {
            uint32_t count;
            memcpy(&count, CMSG_DATA(item), sizeof count);
            tally->dropped[ND_UDP_ECHO_QUEUE_FULL] += (uint32_t)(count - echo->kernel_drops_seen);
            echo->kernel_drops_seen = count;
        }
    }
}

/* --- the loop ------------------------------------------------------------------ */

/* datagrams_in last, with release: a reader that sees a datagram counted
 * (nd_udp_echo_get_stats reads it first) sees what became of it too. */
static void publish(struct nd_udp_echo *echo, const struct tally *tally)
{
    for (unsigned i = 0; i < ND_UDP_ECHO_DROP_COUNT; i++) {
        if (tally->dropped[i])
            atomic_fetch_add_explicit(&echo->dropped[i], tally->dropped[i], memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&echo->datagrams_out, tally->datagrams_out, memory_order_relaxed);
    atomic_fetch_add_explicit(&echo->bytes_out, tally->bytes_out, memory_order_relaxed);
    atomic_fetch_add_explicit(&echo->bytes_in, tally->bytes_in, memory_order_relaxed);
    atomic_fetch_add_explicit(&echo->datagrams_in, tally->datagrams_in, memory_order_release);
}

static void on_io(uv_poll_t *poll, int status, int events);

static void watch(struct nd_udp_echo *echo, int events)
{
    if (uv_poll_start(&echo->poll, events, on_io) != 0)
        atomic_store(&echo->receiving, false);
}

/* Sends the replies waiting; false when the socket's buffer is full and
 * some still wait. A reply the kernel refuses for itself (no route, a
 * firewall) is dropped and the rest go on. */
static bool send_replies(struct nd_udp_echo *echo, struct tally *tally)
{
    while (echo->reply_count > 0) {
        struct mmsghdr *first = &echo->replies[echo->reply_start];
        int sent = sendmmsg(echo->config.fd, first, echo->reply_count, MSG_DONTWAIT);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && errno == EAGAIN)
            return false;
        unsigned done = sent > 0 ? (unsigned)sent : 1;
        for (unsigned i = 0; i < done; i++) {
            if (sent > 0) {
                tally->datagrams_out++;
                tally->bytes_out += first[i].msg_hdr.msg_iov->iov_len;
            } else {
                tally->dropped[ND_UDP_ECHO_SEND_FAILED]++;
            }
        }
        echo->reply_start += done;
        echo->reply_count -= done;
    }
    return true;
}

/* Reads one batch and queues the replies; the number of datagrams read. */
static unsigned receive_batch(struct nd_udp_echo *echo, int fd, struct tally *tally)
{
    for (unsigned i = 0; i < BATCH; i++) {
        struct msghdr *header = &echo->received[i].msg_hdr;
        header->msg_namelen = sizeof echo->peers[i];
        header->msg_controllen = sizeof echo->received_control[i];
        header->msg_flags = 0;
    }
    int count = recvmmsg(fd, echo->received, BATCH, MSG_DONTWAIT, NULL);
    if (count <= 0)
        return 0; /* EAGAIN, or an error the next wake-up will see again */
    uint64_t now_ns = uv_hrtime();
    echo->reply_start = echo->reply_count = 0;
    for (int i = 0; i < count; i++) {
        const struct msghdr *header = &echo->received[i].msg_hdr;
        size_t length = echo->received[i].msg_len;
        const struct sockaddr *peer = (const struct sockaddr *)&echo->peers[i];
        tally->datagrams_in++;
        tally->bytes_in += length;
        note_kernel_drops(echo, header, tally);
        struct mmsghdr *reply = &echo->replies[echo->reply_count];
        enum nd_udp_echo_drop drop;
        if (header->msg_flags & MSG_TRUNC)
            drop = ND_UDP_ECHO_TRUNCATED;
        else if (loop_risk(echo, peer_port(peer)))
            drop = ND_UDP_ECHO_LOOP_GUARD;
        /* Bound to one address, the reply's control stays empty (the
         * replies are zeroed at start): it leaves from that address. */
        else if (echo->wildcard &&
                 !reply_source(header, &reply->msg_hdr, &echo->reply_control[echo->reply_count]))
            drop = ND_UDP_ECHO_NOT_UNICAST;
        else if (!take_token(echo, peer, now_ns))
            drop = ND_UDP_ECHO_RATE_LIMITED;
        else
            drop = ND_UDP_ECHO_DROP_COUNT;
        if (drop != ND_UDP_ECHO_DROP_COUNT) {
            tally->dropped[drop]++;
            continue;
        }
        struct iovec *data = &echo->reply_data[echo->reply_count];
        data->iov_base = echo->received_data[i].iov_base;
        data->iov_len = length;
        reply->msg_hdr.msg_name = &echo->peers[i];
        reply->msg_hdr.msg_namelen = header->msg_namelen;
        reply->msg_hdr.msg_iov = data;
        reply->msg_hdr.msg_iovlen = 1;
        reply->msg_hdr.msg_flags = 0;
        echo->reply_count++;
    }
    return (unsigned)count;
}

static void on_io(uv_poll_t *poll, int status, int events)
{
    struct nd_udp_echo *echo = poll->data;
    struct tally tally;
    memset(&tally, 0, sizeof tally);
    (void)status; /* an error shows as readable; recvmmsg then reports it */
    if (echo->waiting_to_send) {
        if (!(events & UV_WRITABLE) || !send_replies(echo, &tally)) {
            publish(echo, &tally);
            return;
        }
        echo->waiting_to_send = false;
        watch(echo, UV_READABLE);
    }
    for (unsigned batch = 0; batch < BATCHES_PER_WAKE; batch++) {
        unsigned count = receive_batch(echo, echo->config.fd, &tally);
        if (!send_replies(echo, &tally)) {
            echo->waiting_to_send = true;
            watch(echo, UV_WRITABLE);
            break;
        }
        if (count < BATCH)
            break;
    }
    publish(echo, &tally);
}

/* --- start and stop --------------------------------------------------------- */

/* What the socket must tell about each datagram. */
static enum nd_err prepare_socket(struct nd_udp_echo *echo, struct nd_error *error)
{
    int fd = echo->config.fd;
    struct sockaddr_storage bound;
    socklen_t length = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &length) != 0)
        return nd_error_set_errno(error, errno, "getsockname (UDP echo)");
    echo->port = peer_port((struct sockaddr *)&bound);
    echo->wildcard = bound.ss_family == AF_INET
                         ? ((struct sockaddr_in *)&bound)->sin_addr.s_addr == htonl(INADDR_ANY)
                         : IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&bound)->sin6_addr);
    int on = 1, size = RECEIVE_BUFFER;
    /* IP_PKTINFO on an IPv6 socket covers the IPv4 datagrams it takes. */
    if (echo->wildcard && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0)
        return nd_error_set_errno(error, errno, "setsockopt IP_PKTINFO");
    if (echo->wildcard && bound.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) != 0)
        return nd_error_set_errno(error, errno, "setsockopt IPV6_RECVPKTINFO");
    echo->kernel_drops_counted = setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) == 0;
    if (!echo->kernel_drops_counted && errno != ENOPROTOOPT)
        return nd_error_set_errno(error, errno, "setsockopt SO_RXQ_OVFL");
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0)
        return nd_error_set_errno(error, errno, "setsockopt SO_RCVBUF");
    return ND_OK;
}

static enum nd_err allocate(struct nd_udp_echo *echo, struct nd_error *error)
{
    echo->sources = calloc(ND_UDP_ECHO_SOURCES, sizeof *echo->sources);
    echo->slots = malloc((size_t)BATCH * SLOT_SIZE);
    if (!echo->sources || !echo->slots)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    if (getrandom(&echo->hash_seed, sizeof echo->hash_seed, 0) != sizeof echo->hash_seed)
        echo->hash_seed = uv_hrtime();
    for (unsigned i = 0; i < BATCH; i++) {
        echo->received_data[i].iov_base = echo->slots + (size_t)i * SLOT_SIZE;
        echo->received_data[i].iov_len = SLOT_SIZE;
        struct msghdr *header = &echo->received[i].msg_hdr;
        header->msg_name = &echo->peers[i];
        header->msg_iov = &echo->received_data[i];
        header->msg_iovlen = 1;
        header->msg_control = echo->received_control[i].bytes;
    }
    echo->interval_ns = 1000000000u / echo->config.rate;
    echo->tolerance_ns = echo->interval_ns * (echo->config.burst - 1);
    return ND_OK;
}

static void free_echo(struct nd_udp_echo *echo)
{
    free(echo->sources);
    free(echo->slots);
    free(echo);
}

static void on_poll_closed(uv_handle_t *handle)
{
    struct nd_udp_echo *echo = handle->data;
    close(echo->config.fd); /* a uv_poll handle does not own its descriptor */
    nd_runtime_signal(echo->stopped);
}

static void start_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    void **arguments = argument;
    struct nd_udp_echo *echo = arguments[0];
    struct nd_error *error = arguments[1];
    int status = uv_poll_init_socket(loop, &echo->poll, echo->config.fd);
    if (status != 0) {
        nd_runtime_set_error(error, status, "uv_poll_init (UDP echo)");
        close(echo->config.fd);
        nd_runtime_signal(done);
        return;
    }
    echo->poll.data = echo;
    status = uv_poll_start(&echo->poll, UV_READABLE, on_io);
    if (status != 0) {
        nd_runtime_set_error(error, status, "uv_poll_start (UDP echo)");
        echo->stopped = done;
        uv_close((uv_handle_t *)&echo->poll, on_poll_closed);
        return;
    }
    atomic_store(&echo->receiving, true);
    nd_runtime_signal(done);
}

enum nd_err nd_udp_echo_start(struct nd_runtime *runtime, const struct nd_udp_echo_config *config,
                              struct nd_udp_echo **out, struct nd_error *error)
{
    if (config->rate == 0 || config->rate > 1000000000u || config->burst == 0) {
        close(config->fd);
        return nd_error_set(error, ND_ERR_INVALID,
                            "the UDP echo's rate must be 1 to 1e9 and its burst positive");
    }
    struct nd_udp_echo *echo = calloc(1, sizeof *echo);
    if (!echo) {
        close(config->fd);
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    }
    echo->config = *config;
    echo->runtime = runtime;
    enum nd_err err = allocate(echo, error);
    if (err == ND_OK)
        err = prepare_socket(echo, error);
    if (err != ND_OK) {
        close(config->fd);
        free_echo(echo);
        return err;
    }
    struct nd_error failure;
    nd_error_clear(&failure);
    void *arguments[] = {echo, &failure};
    if (!nd_runtime_call(runtime, start_on_loop, arguments)) {
        close(config->fd);
        free_echo(echo);
        return nd_error_set(error, ND_ERR_STOPPING, "the runtime is stopping");
    }
    if (failure.code != ND_OK) {
        free_echo(echo);
        if (error)
            *error = failure;
        return failure.code;
    }
    *out = echo;
    return ND_OK;
}

bool nd_udp_echo_receiving(const struct nd_udp_echo *echo)
{
    return atomic_load(&echo->receiving);
}

void nd_udp_echo_get_stats(const struct nd_udp_echo *echo, struct nd_udp_echo_stats *stats)
{
    stats->datagrams_in = atomic_load_explicit(&echo->datagrams_in, memory_order_acquire);
    stats->kernel_drops_counted = echo->kernel_drops_counted;
    stats->datagrams_out = atomic_load_explicit(&echo->datagrams_out, memory_order_relaxed);
    stats->bytes_in = atomic_load_explicit(&echo->bytes_in, memory_order_relaxed);
    stats->bytes_out = atomic_load_explicit(&echo->bytes_out, memory_order_relaxed);
    for (unsigned i = 0; i < ND_UDP_ECHO_DROP_COUNT; i++)
        stats->dropped[i] = atomic_load_explicit(&echo->dropped[i], memory_order_relaxed);
}

static void stop_on_loop(void *argument, uv_loop_t *loop, struct nd_runtime_done *done)
{
    struct nd_udp_echo *echo = argument;
    (void)loop;
    atomic_store(&echo->receiving, false);
    echo->stopped = done;
    uv_close((uv_handle_t *)&echo->poll, on_poll_closed);
}

void nd_udp_echo_stop(struct nd_udp_echo *echo)
{
    if (!echo)
        return;
    nd_runtime_call(echo->runtime, stop_on_loop, echo);
    free_echo(echo);
}
