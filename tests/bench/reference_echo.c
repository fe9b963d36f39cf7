/*
 * The ceiling for the echo benchmarks: a plain single-threaded epoll echo
 * server with no limits, no timeouts and no counters.
 *   reference_echo PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: reference_echo PORT\n");
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)atoi(argv[1]))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 1024))
        return 1;
    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    static char buffer[65536];
    struct epoll_event events[256];
    for (;;) {
        int count = epoll_wait(epoll, events, 256, -1);
        for (int i = 0; i < count; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct epoll_event added = {.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(epoll, EPOLL_CTL_ADD, client, &added);
                }
                continue;
            }
            ssize_t n = read(fd, buffer, sizeof buffer);
            if (n <= 0) {
                if (n == 0 || errno != EAGAIN)
                    close(fd);
                continue;
            }
            /* The simplest correct echo: block until written back. */
            ssize_t written = 0;
            while (written < n) {
                ssize_t w = send(fd, buffer + written, (size_t)(n - written), MSG_NOSIGNAL);
                if (w < 0 && errno == EAGAIN) {
                    struct timespec pause = {0, 50000};
                    nanosleep(&pause, NULL);
                    continue;
                }
                if (w < 0)
                    break;
                written += w;
            }
        }
    }
}
