/*
 * The ceiling for the UDP echo benchmark: a single-threaded epoll loop that
 * reads up to 32 datagrams per recvmmsg and sends them back with one
 * sendmmsg, with no rate limit, no ancillary data and no counters.
 *   reference_udp_echo PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

enum { BATCH = 32, SLOT = 65536 };

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: reference_udp_echo PORT\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)atoi(argv[1]))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int size = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("reference_udp_echo: bind");
        return 1;
    }
    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
    static char slots[BATCH][SLOT];
    static struct sockaddr_storage peers[BATCH];
    static struct iovec data[BATCH];
    static struct mmsghdr messages[BATCH];
    for (;;) {
        struct epoll_event ready;
        if (epoll_wait(epoll, &ready, 1, -1) < 0 && errno != EINTR)
            return 1;
        for (;;) {
            for (int i = 0; i < BATCH; i++) {
                data[i] = (struct iovec){.iov_base = slots[i], .iov_len = SLOT};
                messages[i].msg_hdr = (struct msghdr){.msg_name = &peers[i],
                                                      .msg_namelen = sizeof peers[i],
                                                      .msg_iov = &data[i],
                                                      .msg_iovlen = 1};
            }
            int count = recvmmsg(fd, messages, BATCH, MSG_DONTWAIT, NULL);
            if (count <= 0)
                break;
            for (int i = 0; i < count; i++)
                data[i].iov_len = messages[i].msg_len;
            for (int sent = 0; sent < count;) {
                int n = sendmmsg(fd, messages + sent, (unsigned)(count - sent), 0);
                if (n <= 0)
                    break;
                sent += n;
            }
        }
    }
}
