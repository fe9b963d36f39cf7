/*
 * A DNS server that does not answer in DNS, for the /dns tests.
 *
 *   fake_dns_server --port-file PATH --mode silent|text [--max-seconds N]
 *
 * Binds UDP port 0 on 127.0.0.1, writes the port number and a newline to
 * PATH (through PATH.tmp and rename(), so a reader never sees half of it),
 * and logs "received a query" on stderr for every datagram. silent: never
 * answers. text: answers every datagram with a line of HTTP, which is not a
 * DNS message. Exits 0 on SIGTERM or SIGINT and after --max-seconds (default
 * 300), 2 on a usage error, 1 when a system call fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_stop_signal(int signal_number)
{
    (void)signal_number;
    stopping = 1;
}

static int fail(const char *what)
{
    fprintf(stderr, "fake_dns_server: %s: %s\n", what, strerror(errno));
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: fake_dns_server --port-file PATH --mode silent|text "
                    "[--max-seconds N]\n");
    return 2;
}

static int write_port_file(const char *path, unsigned port)
{
    char temporary[4096];
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *file = fopen(temporary, "w");
    if (!file)
        return fail("open port file");
    fprintf(file, "%u\n", port);
    if (fclose(file) != 0)
        return fail("write port file");
    if (rename(temporary, path) != 0)
        return fail("rename port file");
    return 0;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *mode = NULL;
    long max_seconds = 300;
    static const struct option long_options[] = {{"port-file", required_argument, NULL, 'p'},
                                                 {"mode", required_argument, NULL, 'm'},
                                                 {"max-seconds", required_argument, NULL, 's'},
                                                 {NULL, 0, NULL, 0}};
    int option;
    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        if (option == 'p')
            port_file = optarg;
        else if (option == 'm')
            mode = optarg;
        else if (option == 's')
            max_seconds = strtol(optarg, NULL, 10);
        else
            return usage();
    }
    if (!port_file || !mode || (strcmp(mode, "silent") != 0 && strcmp(mode, "text") != 0) ||
        max_seconds <= 0)
        return usage();
    bool text = strcmp(mode, "text") == 0;

    struct sigaction action = {.sa_handler = on_stop_signal};
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail("socket");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t length = sizeof address;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) != 0)
        return fail("bind");
    if (write_port_file(port_file, ntohs(address.sin_port)) != 0)
        return 1;

    time_t end = time(NULL) + max_seconds;
    while (!stopping && time(NULL) < end) {
        struct pollfd entry = {.fd = fd, .events = POLLIN};
        int ready = poll(&entry, 1, 200);
        if (ready < 0 && errno != EINTR)
            return fail("poll");
        if (ready <= 0)
            continue;
        unsigned char query[4096];
        struct sockaddr_in peer;
        socklen_t peer_length = sizeof peer;
        ssize_t received =
            recvfrom(fd, query, sizeof query, 0, (struct sockaddr *)&peer, &peer_length);
        if (received < 0)
            continue;
        fprintf(stderr, "received a query of %zd bytes\n", received);
        if (text) {
            static const char reply[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
            if (sendto(fd, reply, sizeof reply - 1, 0, (struct sockaddr *)&peer, peer_length) < 0)
                return fail("sendto");
        }
    }
    close(fd);
    return 0;
}
