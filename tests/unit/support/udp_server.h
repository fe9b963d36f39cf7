/*
 * Small UDP servers on 127.0.0.1 or ::1 for the UDP probes' unit tests: an
 * echo and the ways one goes wrong (silence, a lost first datagram, two
 * answers, another text, answers that come late). Each runs in its own
 * thread and records where its datagrams came from.
 */
#ifndef NETDIAG_TESTS_UDP_SERVER_H
#define NETDIAG_TESTS_UDP_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum nd_test_udp_behaviour {
    ND_TEST_UDP_ECHO,
    ND_TEST_UDP_SILENT,        /* a bound socket nobody reads: no ICMP comes back */
    ND_TEST_UDP_ALL_BUT_FIRST, /* the first datagram is dropped */
    ND_TEST_UDP_TWICE,         /* every datagram is answered twice */
    ND_TEST_UDP_OTHER_TEXT,    /* "other" comes back instead */
    ND_TEST_UDP_LATE,          /* each echo 200 ms after its datagram, one at a time */
};

enum { ND_TEST_UDP_SOURCES_MAX = 8 };

struct nd_test_udp_server {
    int fd;
    struct sockaddr_storage address; /* where it listens */
    uint16_t port;
    enum nd_test_udp_behaviour behaviour;
    pthread_t thread;
    int stop_pipe[2];
    /* The source port of each datagram; read after the server stops. */
    uint16_t sources[ND_TEST_UDP_SOURCES_MAX];
    unsigned received;
};

/* Starts a server on family's loopback address (AF_INET or AF_INET6).
 * False when the host has no such family (no ::1); a test then skips. */
bool nd_test_udp_server_start(struct nd_test_udp_server *server, int family,
                              enum nd_test_udp_behaviour behaviour);

void nd_test_udp_server_stop(struct nd_test_udp_server *server);

/* A UDP port on 127.0.0.1 nothing is bound to: the kernel answers ICMP port
 * unreachable. */
uint16_t nd_test_udp_closed_port(void);

#endif
