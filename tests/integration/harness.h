/*
 * Integration test harness: starts the real netdiag binary ($NETDIAG_BINARY)
 * on ephemeral loopback ports, talks to it with libcurl, stops it with
 * SIGTERM. Include after the cmocka headers.
 */
#ifndef NETDIAG_TEST_HARNESS_H
#define NETDIAG_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

struct nd_test_server {
    pid_t pid;
    unsigned http_port;
    unsigned echo_port;     /* 0 when the echo listener is off */
    unsigned echo_udp_port; /* 0 when the UDP echo listener is off */
    char base_url[64];      /* "http://127.0.0.1:PORT", or https://localhost:PORT */
    char ca_file[320];      /* for https: the anchor requests trust */
    char directory[256];    /* a temporary directory owned by this server */
    char log_path[320];     /* the server's stdout and stderr */
};

/* Starts netdiag with --listen 127.0.0.1:0 --echo-listen 127.0.0.1:0 (and so
 * the UDP echo on 127.0.0.1, a free port of its own) plus
 * extra_args (NULL-terminated, may be NULL; a later flag overrides an earlier
 * one) and waits until the log says where it listens. Fails the test on
 * error. */
void nd_test_server_start(struct nd_test_server *server, const char *const *extra_args);

/* The same with /etc/hosts replaced by the text hosts for netdiag alone (a
 * mount namespace of its own, which needs root); false, with nothing
 * started, when that cannot be done here. */
bool nd_test_server_start_with_hosts(struct nd_test_server *server, const char *const *extra_args,
                                     const char *hosts);

/* From now on requests to server go over HTTPS to localhost, trusting the
 * PEM anchors in ca_file (a server started with --tls-cert). */
void nd_test_server_use_https(struct nd_test_server *server, const char *ca_file);

/* cmocka group fixtures for a file whose tests share one server started with
 * the default flags: setup starts it and stores it in *state, teardown stops
 * it and fails unless it exits 0. */
int nd_test_group_setup(void **state);
int nd_test_group_teardown(void **state);

/* SIGTERM, then waits; returns the exit status (or 128 + signal). Fails the
 * test if the process does not exit within timeout_ms. Removes the directory. */
int nd_test_server_stop(struct nd_test_server *server, int timeout_ms);

/* The whole server log so far (malloc'd, caller frees). */
char *nd_test_server_log(const struct nd_test_server *server);

/* Polls the log until it contains text or timeout_ms passes. */
bool nd_test_server_wait_log(const struct nd_test_server *server, const char *text, int timeout_ms);

struct nd_test_response {
    long status;
    char *body; /* NUL-terminated, may contain NULs before body_length */
    size_t body_length;
    char *headers; /* raw header block */
    char content_type[128];
    cJSON *json;    /* parsed body when it is JSON, else NULL */
    double seconds; /* total transfer time */
};

/* GET base_url + path (path includes the query). Fails the test if the
 * transfer fails (connection refused, timeout after 30 s). */
void nd_test_get(const struct nd_test_server *server, const char *path,
                 struct nd_test_response *response);

/* Any method with optional extra headers (NULL-terminated "Name: value"). */
void nd_test_request(const struct nd_test_server *server, const char *method, const char *path,
                     const char *const *headers, struct nd_test_response *response);

/* The value of a response header (case-insensitive name) copied into value;
 * false when absent. */
bool nd_test_header(const struct nd_test_response *response, const char *name, char *value,
                    size_t size);

void nd_test_response_free(struct nd_test_response *response);

/* Asserts a problem+json answer: status, content type, and the `code` and
 * `param` members (param NULL = must be absent or ignored when "*"). */
void nd_test_assert_problem(const struct nd_test_response *response, long status, const char *code,
                            const char *param);

/* A request that must be refused with 400, the problem's code and param. */
struct nd_test_bad_input {
    const char *path;
    const char *code;
    const char *param;
};

/* Sends each request and asserts its 400 problem. */
void nd_test_expect_bad_inputs(const struct nd_test_server *server,
                               const struct nd_test_bad_input *cases, size_t count);

/* JSON helpers that fail the test when the member is missing or of another type. */
const cJSON *nd_test_json_get(const cJSON *object, const char *path); /* "a.b.0.c" */
double nd_test_json_number(const cJSON *object, const char *path);
const char *nd_test_json_string(const cJSON *object, const char *path);
bool nd_test_json_bool(const cJSON *object, const char *path);

/* The object in the array at path whose member key is the string value
 * (the /connect phase named "exchange"), NULL when none is. */
const cJSON *nd_test_json_find(const cJSON *object, const char *path, const char *key,
                               const char *value);

/* Connects a TCP socket to 127.0.0.1:port (blocking). Fails the test on error. */
int nd_test_connect(unsigned port);

/* Sends what it can of data: stops early, without failing, when the server
 * closes (it may answer and close before reading a whole request). */
void nd_test_send_all(int fd, const char *data, size_t length);

/* Sends a raw request on a new connection and returns the status of the
 * answer, or 0 when the connection is refused or closed without one. */
long nd_test_raw_status(unsigned port, const char *request, size_t length);

/* Starts a helper process with stdout and stderr to log_path; returns its pid. */
pid_t nd_test_spawn(const char *const *argv, const char *log_path);

/* SIGTERM, wait (SIGKILL after 5 s); returns the exit status. */
int nd_test_terminate(pid_t pid);

/* A fake server from tests/tools, running. */
struct nd_test_fake {
    pid_t pid;
    unsigned port;
    char log_path[320];
};

/* Starts $NETDIAG_TOOLS_DIR/tool --port-file ... --mode mode --max-seconds 120
 * with its files in directory, and waits for the port it bound. Fails the
 * test when it does not start. */
void nd_test_fake_start(const char *tool, const char *mode, const char *directory,
                        struct nd_test_fake *fake);

/* A test program built beside the tests ($NETDIAG_TOOLS_DIR/name). */
void nd_test_tool_path(const char *name, char *out, size_t size);

/* Occurrences of text in the file (0 when it does not exist). */
unsigned nd_test_count_in_file(const char *path, const char *text);

/* The resident set of process pid, in KiB (VmRSS). */
long nd_test_resident_kib(pid_t pid);

/* Waits for a file holding a decimal number (a port file); 0 on timeout. */
unsigned nd_test_read_port_file(const char *path, int timeout_ms);

/* A port free for both UDP and TCP on each of the IPv4 addresses, as a
 * DNS server or netdiag (HTTP and echo) binds both: below the kernel's
 * ephemeral range (32768 and up), where a client connection of another
 * test cannot take it from under the server. */
unsigned nd_test_free_port_on(const char *const *addresses, size_t count);

/* GETs path (with its query) count times at once, with libcurl's multi
 * interface on the calling thread, and stores each answer's status in
 * statuses (0 when none came within 30 s). */
void nd_test_get_all(const struct nd_test_server *server, const char *path, unsigned count,
                     long *statuses);

/* The same on a thread of its own, while the test goes on: begin starts it
 * (path is copied), end waits for every answer, stores the statuses (count
 * of them) and frees the batch. */
struct nd_test_batch;
struct nd_test_batch *nd_test_get_all_begin(const struct nd_test_server *server, const char *path,
                                            unsigned count);
void nd_test_get_all_end(struct nd_test_batch *batch, long *statuses);

/* Runs a shell command and returns its exit status (-1 when it did not
 * exit), with the start of its output in out (NUL-terminated). */
int nd_test_command(const char *command, char *out, size_t size);

/* A UDP socket bound to 127.0.0.1 and its port: a server that takes
 * datagrams and never answers while it is open. The caller closes it. */
int nd_test_udp_socket(unsigned *port);

/* A path under the source tree ($NETDIAG_SOURCE_DIR). */
void nd_test_source_path(const char *relative, char *out, size_t size);

#endif
