/*
 * A deliberately misbehaving NTP server for the integration tests.
 *
 *   fake_ntp_server --port-file PATH --mode MODE [--bind ADDRESS] [--max-seconds N]
 *
 * Binds UDP port 0 on ADDRESS (default 127.0.0.1; an IPv6 literal works too),
 * writes the chosen port number and a newline to PATH (via PATH.tmp and
 * rename(), so a reader never sees a partial file), then answers every
 * request of at least 48 bytes as MODE says. Each bad mode breaks exactly one
 * thing, so a test can tell which client check caught it:
 *
 *   good             a valid stratum-2 reply carrying the real time
 *   silent           reads requests, never answers
 *   wrong-mode       mode 5 (broadcast) instead of 4
 *   bad-origin       origin is not the request's transmit timestamp
 *   bad-origin-then-good
 *                    a bad-origin datagram first, then the good reply
 *   zero-transmit    transmit timestamp is zero
 *   stratum16        stratum 16 (unsynchronized)
 *   leap3            leap indicator 3 (alarm condition)
 *   kiss-RATE        kiss-o'-death: stratum 0, reference id "RATE"
 *   kiss-DENY        kiss-o'-death: stratum 0, reference id "DENY"
 *   short            only the first 20 bytes of a good reply
 *   from-other-port  a good reply sent from a second socket on another port
 *
 * It exits with status 0 on SIGTERM or SIGINT and after --max-seconds
 * (default 300), so a forgotten instance cannot outlive a test run; 2 on a
 * usage error, 1 when a system call fails. One line per request goes to stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netdiag/parse.h"
#include "netdiag/sntp.h"

enum mode {
    MODE_GOOD,
    MODE_SILENT,
    MODE_WRONG_MODE,
    MODE_BAD_ORIGIN,
    MODE_BAD_ORIGIN_THEN_GOOD,
    MODE_ZERO_TRANSMIT,
    MODE_STRATUM16,
    MODE_LEAP3,
    MODE_KISS_RATE,
    MODE_KISS_DENY,
    MODE_SHORT,
    MODE_FROM_OTHER_PORT,
};

struct mode_name {
    const char *name;
    enum mode mode;
};

static const struct mode_name mode_names[] = {
    {"good", MODE_GOOD},
    {"silent", MODE_SILENT},
    {"wrong-mode", MODE_WRONG_MODE},
    {"bad-origin", MODE_BAD_ORIGIN},
    {"bad-origin-then-good", MODE_BAD_ORIGIN_THEN_GOOD},
    {"zero-transmit", MODE_ZERO_TRANSMIT},
    {"stratum16", MODE_STRATUM16},
    {"leap3", MODE_LEAP3},
    {"kiss-RATE", MODE_KISS_RATE},
    {"kiss-DENY", MODE_KISS_DENY},
    {"short", MODE_SHORT},
    {"from-other-port", MODE_FROM_OTHER_PORT},
};

enum {
    MAX_SECONDS_DEFAULT = 300,
    MAX_SECONDS_LIMIT = 86400,
    SHORT_REPLY_SIZE = 20,
    EXIT_USAGE = 2,
};

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int signal_number)
{
    stop_signal = signal_number;
}

static void usage(FILE *stream)
{
    fprintf(stream, "usage: fake_ntp_server --port-file PATH --mode MODE [--bind ADDRESS] "
                    "[--max-seconds N]\nmodes:");
    for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
        fprintf(stream, " %s", mode_names[i].name);
    fprintf(stream, "\n");
}

static bool find_mode(const char *name, enum mode *out)
{
    for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++) {
        if (strcmp(mode_names[i].name, name) == 0) {
            *out = mode_names[i].mode;
            return true;
        }
    }
    return false;
}

static int fail(const char *call)
{
    fprintf(stderr, "fake_ntp_server: %s: %s\n", call, strerror(errno));
    return EXIT_FAILURE;
}

static bool parse_bind_address(const char *text, struct sockaddr_storage *address,
                               socklen_t *length)
{
    memset(address, 0, sizeof *address);
    struct sockaddr_in *ipv4 = (struct sockaddr_in *)address;
    if (inet_pton(AF_INET, text, &ipv4->sin_addr) == 1) {
        ipv4->sin_family = AF_INET;
        *length = sizeof *ipv4;
        return true;
    }
    struct sockaddr_in6 *ipv6 = (struct sockaddr_in6 *)address;
    if (inet_pton(AF_INET6, text, &ipv6->sin6_addr) == 1) {
        ipv6->sin6_family = AF_INET6;
        *length = sizeof *ipv6;
        return true;
    }
    return false;
}

/* Binds a UDP socket to address with port 0 and rewrites address with the
 * port the kernel chose. Returns the socket, or -1 with errno set. */
static int bind_any_port(struct sockaddr_storage *address, socklen_t *length)
{
    int socket_fd = socket(address->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (socket_fd < 0)
        return -1;
    if (bind(socket_fd, (struct sockaddr *)address, *length) != 0 ||
        getsockname(socket_fd, (struct sockaddr *)address, length) != 0) {
        int saved = errno;
        close(socket_fd);
        errno = saved;
        return -1;
    }
    return socket_fd;
}

static unsigned port_of(const struct sockaddr_storage *address)
{
    if (address->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)address)->sin6_port);
    return ntohs(((const struct sockaddr_in *)address)->sin_port);
}

/* A reader polling for PATH sees either no file or the whole number: the
 * text is written to PATH.tmp and renamed over PATH, which is atomic. */
static int write_port_file(const char *path, unsigned port)
{
    char temporary[PATH_MAX];
    int length = snprintf(temporary, sizeof temporary, "%s.tmp", path);
    if (length < 0 || (size_t)length >= sizeof temporary) {
        fprintf(stderr, "fake_ntp_server: port file path is too long\n");
        return EXIT_FAILURE;
    }
    int file = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (file < 0)
        return fail("open port file");
    char text[16];
    int text_length = snprintf(text, sizeof text, "%u\n", port);
    ssize_t written = write(file, text, (size_t)text_length);
    if (written != text_length) {
        int saved = errno;
        close(file);
        errno = written < 0 ? saved : EIO;
        return fail("write port file");
    }
    if (close(file) != 0)
        return fail("close port file");
    if (rename(temporary, path) != 0)
        return fail("rename port file");
    return EXIT_SUCCESS;
}

static int now(struct nd_sntp_timestamp *out)
{
    struct timespec time;
    if (clock_gettime(CLOCK_REALTIME, &time) != 0)
        return -1;
    *out = nd_sntp_timestamp_from_timespec(&time);
    return 0;
}

static void put_u32(uint8_t *wire, uint32_t value)
{
    wire[0] = (uint8_t)(value >> 24);
    wire[1] = (uint8_t)(value >> 16);
    wire[2] = (uint8_t)(value >> 8);
    wire[3] = (uint8_t)value;
}

/* Fills reply as MODE says for request, received at T2 = received.
 * Returns the number of bytes to send, or -1 with errno set. */
static ssize_t build_reply(enum mode mode, const uint8_t *request,
                           struct nd_sntp_timestamp received, uint8_t reply[ND_SNTP_PACKET_SIZE])
{
    unsigned request_version = (request[0] >> 3) & 7;
    unsigned version = request_version == 3 ? 3 : 4;
    unsigned leap = mode == MODE_LEAP3 ? 3 : 0;
    unsigned packet_mode = mode == MODE_WRONG_MODE ? 5 : 4;
    memset(reply, 0, ND_SNTP_PACKET_SIZE);
    reply[0] = (uint8_t)(leap << 6 | version << 3 | packet_mode);
    reply[1] = 2;
    reply[2] = request[2];           /* RFC 5905 section 9.2: the server copies the poll */
    reply[3] = 0xEC;                 /* precision 2^-20 s, about a microsecond */
    put_u32(reply + 4, 0x00000200);  /* root delay 7.8 ms */
    put_u32(reply + 8, 0x00000400);  /* root dispersion 15.6 ms */
    put_u32(reply + 12, 0xC0000201); /* upstream 192.0.2.1, a documentation address */
    if (mode == MODE_STRATUM16) {
        reply[1] = 16;
        put_u32(reply + 12, 0);
    } else if (mode == MODE_KISS_RATE || mode == MODE_KISS_DENY) {
        reply[1] = 0;
        memcpy(reply + 12, mode == MODE_KISS_RATE ? "RATE" : "DENY", 4);
    }

    struct nd_sntp_timestamp reference = received;
    reference.seconds -= 17;
    nd_sntp_timestamp_encode(reference, reply + 16);
    memcpy(reply + 24, request + 40, 8);
    if (mode == MODE_BAD_ORIGIN) {
        for (size_t i = 24; i < 32; i++)
            reply[i] ^= 0xFF;
    }
    nd_sntp_timestamp_encode(received, reply + 32);
    if (mode != MODE_ZERO_TRANSMIT) {
        struct nd_sntp_timestamp transmit;
        if (now(&transmit) != 0)
            return -1;
        nd_sntp_timestamp_encode(transmit, reply + 40);
    }
    return mode == MODE_SHORT ? SHORT_REPLY_SIZE : ND_SNTP_PACKET_SIZE;
}

static void describe_peer(const struct sockaddr_storage *peer, char *text, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (peer->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, host, sizeof host);
    else
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, host, sizeof host);
    snprintf(text, size, "%s port %u", host, port_of(peer));
}

/* Reads one datagram and answers it. Returns 0, or -1 with errno set when a
 * system call failed in a way that should stop the server. */
static int serve_one(int socket_fd, int other_socket_fd, enum mode mode, const char *mode_name)
{
    uint8_t request[ND_SNTP_DATAGRAM_MAX];
    struct sockaddr_storage peer;
    socklen_t peer_length = sizeof peer;
    ssize_t length =
        recvfrom(socket_fd, request, sizeof request, 0, (struct sockaddr *)&peer, &peer_length);
    if (length < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    struct nd_sntp_timestamp received;
    if (now(&received) != 0)
        return -1;
    char peer_text[INET6_ADDRSTRLEN + 16];
    describe_peer(&peer, peer_text, sizeof peer_text);
    if (length < ND_SNTP_PACKET_SIZE) {
        fprintf(stderr, "fake_ntp_server: ignored %zd bytes from %s\n", length, peer_text);
        return 0;
    }
    if (mode == MODE_SILENT) {
        fprintf(stderr, "fake_ntp_server: %s: dropped a request from %s\n", mode_name, peer_text);
        return 0;
    }
    uint8_t reply[ND_SNTP_PACKET_SIZE];
    ssize_t reply_length;
    if (mode == MODE_BAD_ORIGIN_THEN_GOOD) {
        reply_length = build_reply(MODE_BAD_ORIGIN, request, received, reply);
        if (reply_length < 0 || (sendto(socket_fd, reply, (size_t)reply_length, 0,
                                        (struct sockaddr *)&peer, peer_length) < 0 &&
                                 errno != ECONNREFUSED))
            return -1;
        mode = MODE_GOOD;
    }
    reply_length = build_reply(mode, request, received, reply);
    if (reply_length < 0)
        return -1;
    int sender = mode == MODE_FROM_OTHER_PORT ? other_socket_fd : socket_fd;
    ssize_t sent =
        sendto(sender, reply, (size_t)reply_length, 0, (struct sockaddr *)&peer, peer_length);
    /* A client that went away makes the kernel report ECONNREFUSED on some
     * later call; that is the client's business, not a reason to stop. */
    if (sent < 0 && errno != ECONNREFUSED)
        return -1;
    fprintf(stderr, "fake_ntp_server: %s: answered %s with %zd bytes\n", mode_name, peer_text,
            reply_length);
    return 0;
}

static int install_signal_handlers(sigset_t *unblocked)
{
    /* The stop signals stay blocked except inside ppoll, which unblocks
     * them atomically, so one arriving between the loop's check of
     * stop_signal and the wait cannot be lost. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    if (sigprocmask(SIG_BLOCK, &stop_signals, unblocked) != 0)
        return -1;
    sigdelset(unblocked, SIGTERM);
    sigdelset(unblocked, SIGINT);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL;
    const char *mode_name = NULL;
    const char *bind_text = "127.0.0.1";
    uint64_t max_seconds = MAX_SECONDS_DEFAULT;
    static const struct option options[] = {
        {"port-file", required_argument, NULL, 'p'},
        {"mode", required_argument, NULL, 'm'},
        {"bind", required_argument, NULL, 'b'},
        {"max-seconds", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'p':
            port_file = optarg;
            break;
        case 'm':
            mode_name = optarg;
            break;
        case 'b':
            bind_text = optarg;
            break;
        case 's':
            if (nd_parse_decimal(optarg, MAX_SECONDS_LIMIT, &max_seconds) != ND_OK ||
                max_seconds == 0) {
                fprintf(stderr, "fake_ntp_server: --max-seconds wants 1 to %d, not '%s'\n",
                        MAX_SECONDS_LIMIT, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    enum mode mode = MODE_GOOD;
    if (optind != argc || !port_file || !mode_name) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!find_mode(mode_name, &mode)) {
        fprintf(stderr, "fake_ntp_server: unknown mode '%s'\n", mode_name);
        usage(stderr);
        return EXIT_USAGE;
    }
    struct sockaddr_storage address;
    socklen_t address_length;
    if (!parse_bind_address(bind_text, &address, &address_length)) {
        fprintf(stderr, "fake_ntp_server: --bind wants an IPv4 or IPv6 address, not '%s'\n",
                bind_text);
        return EXIT_USAGE;
    }

    sigset_t unblocked;
    if (install_signal_handlers(&unblocked) != 0)
        return fail("signal setup");
    struct timespec start;
    if (clock_gettime(CLOCK_MONOTONIC, &start) != 0)
        return fail("clock_gettime");

    struct sockaddr_storage other_address = address;
    socklen_t other_length = address_length;
    int socket_fd = bind_any_port(&address, &address_length);
    if (socket_fd < 0)
        return fail("bind");
    int other_socket_fd = -1;
    if (mode == MODE_FROM_OTHER_PORT) {
        other_socket_fd = bind_any_port(&other_address, &other_length);
        if (other_socket_fd < 0)
            return fail("bind second socket");
    }
    int status = write_port_file(port_file, port_of(&address));
    if (status != EXIT_SUCCESS)
        return status;
    fprintf(stderr, "fake_ntp_server: mode %s on %s port %u for at most %u s\n", mode_name,
            bind_text, port_of(&address), (unsigned)max_seconds);
    if (other_socket_fd >= 0)
        fprintf(stderr, "fake_ntp_server: replies leave from port %u\n", port_of(&other_address));

    for (;;) {
        if (stop_signal) {
            fprintf(stderr, "fake_ntp_server: stopping on signal %d\n", (int)stop_signal);
            break;
        }
        struct timespec current;
        if (clock_gettime(CLOCK_MONOTONIC, &current) != 0)
            return fail("clock_gettime");
        int64_t left_ns = (int64_t)max_seconds * 1000000000 -
                          ((int64_t)(current.tv_sec - start.tv_sec) * 1000000000 +
                           (current.tv_nsec - start.tv_nsec));
        if (left_ns <= 0) {
            fprintf(stderr, "fake_ntp_server: stopping after %u s\n", (unsigned)max_seconds);
            break;
        }
        struct timespec wait = {.tv_sec = (time_t)(left_ns / 1000000000),
                                .tv_nsec = (long)(left_ns % 1000000000)};
        struct pollfd waiting = {.fd = socket_fd, .events = POLLIN};
        int ready = ppoll(&waiting, 1, &wait, &unblocked);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return fail("ppoll");
        }
        if (ready > 0 && serve_one(socket_fd, other_socket_fd, mode, mode_name) != 0)
            return fail("serve");
    }
    if (other_socket_fd >= 0 && close(other_socket_fd) != 0)
        return fail("close");
    if (close(socket_fd) != 0)
        return fail("close");
    return EXIT_SUCCESS;
}
