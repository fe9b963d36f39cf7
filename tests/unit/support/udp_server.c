#include "udp_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what)
{
    perror(what);
    abort();
}

static uint16_t port_of(const struct sockaddr_storage *address)
{
    return ntohs(address->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)address)->sin6_port
                                                : ((const struct sockaddr_in *)address)->sin_port);
}

static void *serve(void *argument)
{
    struct nd_test_udp_server *server = argument;
    static _Thread_local char buffer[65536];
    for (;;) {
        struct pollfd entries[2] = {{.fd = server->fd, .events = POLLIN},
                                    {.fd = server->stop_pipe[0], .events = POLLIN}};
        if (poll(entries, 2, 5000) <= 0 || entries[1].revents)
            return NULL;
        struct sockaddr_storage peer;
        socklen_t length = sizeof peer;
        ssize_t n =
            recvfrom(server->fd, buffer, sizeof buffer, 0, (struct sockaddr *)&peer, &length);
        if (n < 0)
            return NULL;
        unsigned index = server->received++;
        if (index < ND_TEST_UDP_SOURCES_MAX)
            server->sources[index] = port_of(&peer);
        int copies = server->behaviour == ND_TEST_UDP_TWICE ? 2 : 1;
        if (server->behaviour == ND_TEST_UDP_ALL_BUT_FIRST && index == 0)
            copies = 0;
        if (server->behaviour == ND_TEST_UDP_OTHER_TEXT) {
            memcpy(buffer, "other", 5);
            n = 5;
        }
        if (server->behaviour == ND_TEST_UDP_LATE) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
            nanosleep(&pause, NULL);
        }
        for (int i = 0; i < copies; i++)
            sendto(server->fd, buffer, (size_t)n, 0, (struct sockaddr *)&peer, length);
    }
}

bool nd_test_udp_server_start(struct nd_test_udp_server *server, int family,
                              enum nd_test_udp_behaviour behaviour)
{
    memset(server, 0, sizeof *server);
    server->behaviour = behaviour;
    server->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (server->fd < 0) {
        if (family == AF_INET6)
            return false;
        fail("udp server: socket");
    }
    socklen_t length;
    if (family == AF_INET6) {
        struct sockaddr_in6 *address = (struct sockaddr_in6 *)&server->address;
        address->sin6_family = AF_INET6;
        address->sin6_addr = in6addr_loopback;
        length = sizeof *address;
    } else {
        struct sockaddr_in *address = (struct sockaddr_in *)&server->address;
        address->sin_family = AF_INET;
        address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *address;
    }
    if (bind(server->fd, (struct sockaddr *)&server->address, length) != 0) {
        close(server->fd);
        if (family == AF_INET6)
            return false; /* ::1 is not configured */
        fail("udp server: bind");
    }
    if (getsockname(server->fd, (struct sockaddr *)&server->address, &length) != 0)
        fail("udp server: getsockname");
    server->port = port_of(&server->address);
    if (behaviour == ND_TEST_UDP_SILENT)
        return true;
    if (pipe(server->stop_pipe) != 0 || pthread_create(&server->thread, NULL, serve, server) != 0)
        fail("udp server: thread");
    return true;
}

void nd_test_udp_server_stop(struct nd_test_udp_server *server)
{
    if (server->behaviour != ND_TEST_UDP_SILENT) {
        if (write(server->stop_pipe[1], "x", 1) != 1)
            fail("udp server: stop");
        pthread_join(server->thread, NULL);
        close(server->stop_pipe[0]);
        close(server->stop_pipe[1]);
    }
    close(server->fd);
}

uint16_t nd_test_udp_closed_port(void)
{
    struct nd_test_udp_server server;
    nd_test_udp_server_start(&server, AF_INET, ND_TEST_UDP_SILENT);
    uint16_t port = server.port;
    close(server.fd);
    return port;
}
