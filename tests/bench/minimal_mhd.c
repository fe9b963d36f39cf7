/*
 * The library's ceiling for the benchmarks: the least a libmicrohttpd server
 * can do, in netdiag's threading mode (internal polling threads with epoll,
 * turbo), answering a fixed JSON body as long as /byteorder's.
 *   minimal_mhd PORT THREADS
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] =
    "{\"input\":\"1234\",\"value\":1234,\"host_byte_order\":\"little\",\"uint32\":{\"value\":1234,"
    "\"ntohl\":3523477504,\"htonl\":3523477504,\"host_order_bytes\":\"d2040000\","
    "\"network_order_bytes\":\"000004d2\"},\"uint16\":{\"value\":1234,\"ntohs\":53764,"
    "\"htons\":53764,\"host_order_bytes\":\"d204\",\"network_order_bytes\":\"04d2\"}}\n";

static enum MHD_Result answer(void *context, struct MHD_Connection *connection, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **request)
{
    (void)context, (void)url, (void)method, (void)version, (void)upload, (void)upload_size;
    if (*request == NULL) {
        *request = (void *)1;
        return MHD_YES;
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(response, "Content-Type", "application/json");
    enum MHD_Result result = MHD_queue_response(connection, 200, response);
    MHD_destroy_response(response);
    return result;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: minimal_mhd PORT THREADS\n");
        return 2;
    }
    unsigned threads = (unsigned)atoi(argv[2]);
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO, (uint16_t)atoi(argv[1]),
        NULL, NULL, answer, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)20000,
        MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0, MHD_OPTION_END);
    if (!daemon)
        return 1;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigprocmask(SIG_BLOCK, &signals, NULL);
    int received;
    sigwait(&signals, &received);
    MHD_stop_daemon(daemon);
    return 0;
}
