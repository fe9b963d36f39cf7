/*
 * The reference for the fleet's CPU per interval: what the kernel alone
 * charges for the probes the issue asks for, with no event loop, no HTTP
 * library and no bookkeeping. Each cycle is one peer's share of an
 * interval, both ends of it: a new TCP connection, a GET /healthz-sized
 * request, a 200-sized answer, both closes; and one UDP datagram echoed
 * back. Blocking sockets, a server process for each protocol.
 *   fleet_floor ADDRESS CYCLES
 * prints "floor: US us per peer (both ends: ...)", the CPU of every process.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char request[] = "GET /healthz HTTP/1.0\r\nHost: 127.0.1.1:20000\r\n"
                              "User-Agent: netdiag/0.0.0 (fleet)\r\nConnection: close\r\n\r\n";
static const char answer[] =
    "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
    "Cache-Control: no-store\r\nNetdiag-Node: node-1\r\n"
    "Content-Length: 42\r\n\r\n{\"status\":\"ok\",\"node\":\"node-1\",\"up\":1234}";
static const char datagram[] = "netdiag fleet";

static double cpu_seconds(int who)
{
    struct rusage usage;
    if (getrusage(who, &usage) != 0)
        return 0;
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

static int bound_socket(int type, struct sockaddr_in *address)
{
    int fd = socket(AF_INET, type, 0);
    socklen_t length = sizeof *address;
    if (fd < 0 || bind(fd, (struct sockaddr *)address, sizeof *address) != 0 ||
        (type == SOCK_STREAM && listen(fd, 1024) != 0) ||
        getsockname(fd, (struct sockaddr *)address, &length) != 0) {
        perror("fleet_floor: listen");
        exit(1);
    }
    return fd;
}

static void serve_tcp(int listener)
{
    char buffer[4096];
    for (;;) {
        int connection = accept(listener, NULL, NULL);
        if (connection < 0)
            continue;
        if (read(connection, buffer, sizeof buffer) > 0 &&
            write(connection, answer, sizeof answer - 1) < 0)
            perror("fleet_floor: write");
        close(connection);
    }
}

static void serve_udp(int fd)
{
    char buffer[512];
    for (;;) {
        struct sockaddr_in from;
        socklen_t length = sizeof from;
        ssize_t count = recvfrom(fd, buffer, sizeof buffer, 0, (struct sockaddr *)&from, &length);
        if (count > 0)
            sendto(fd, buffer, (size_t)count, 0, (struct sockaddr *)&from, length);
    }
}

static pid_t start(void (*serve)(int), int fd)
{
    pid_t child = fork();
    if (child < 0) {
        perror("fleet_floor: fork");
        exit(1);
    }
    if (child == 0) {
        serve(fd);
        _exit(0);
    }
    close(fd);
    return child;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fleet_floor ADDRESS CYCLES\n");
        return 2;
    }
    struct sockaddr_in tcp = {.sin_family = AF_INET}, udp;
    if (inet_pton(AF_INET, argv[1], &tcp.sin_addr) != 1) {
        fprintf(stderr, "fleet_floor: %s is not an IPv4 address\n", argv[1]);
        return 2;
    }
    long cycles = strtol(argv[2], NULL, 10);
    if (cycles <= 0)
        return 2;
    udp = tcp;
    pid_t tcp_server = start(serve_tcp, bound_socket(SOCK_STREAM, &tcp));
    pid_t udp_server = start(serve_udp, bound_socket(SOCK_DGRAM, &udp));
    int pinger = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval patience = {.tv_sec = 1};
    if (pinger < 0 ||
        setsockopt(pinger, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience) != 0 ||
        connect(pinger, (struct sockaddr *)&udp, sizeof udp) != 0) {
        perror("fleet_floor: udp");
        return 1;
    }
    char buffer[4096];
    double before = cpu_seconds(RUSAGE_SELF);
    for (long i = 0; i < cycles; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&tcp, sizeof tcp) != 0 ||
            write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) {
            perror("fleet_floor: tcp");
            return 1;
        }
        while (read(fd, buffer, sizeof buffer) > 0)
            ;
        close(fd);
        if (send(pinger, datagram, sizeof datagram - 1, 0) < 0 ||
            recv(pinger, buffer, sizeof buffer, 0) < 0) {
            perror("fleet_floor: udp");
            return 1;
        }
    }
    double mine = cpu_seconds(RUSAGE_SELF) - before;
    kill(tcp_server, SIGTERM);
    kill(udp_server, SIGTERM);
    waitpid(tcp_server, NULL, 0);
    waitpid(udp_server, NULL, 0);
    double theirs = cpu_seconds(RUSAGE_CHILDREN);
    printf("floor: %.1f us per peer (both ends: the prober %.1f, the servers %.1f)\n",
           (mine + theirs) / (double)cycles * 1e6, mine / (double)cycles * 1e6,
           theirs / (double)cycles * 1e6);
    return 0;
}
