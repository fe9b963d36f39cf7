#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_ARGS = 64 };

static void sleep_ms(int ms)
{
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

void nd_test_source_path(const char *relative, char *out, size_t size)
{
    const char *root = getenv("NETDIAG_SOURCE_DIR");
    snprintf(out, size, "%s/%s", root ? root : ".", relative);
}

char *nd_test_server_log(const struct nd_test_server *server)
{
    FILE *file = fopen(server->log_path, "rb");
    if (!file)
        return strdup("");
    size_t capacity = 1 << 16, length = 0;
    char *text = malloc(capacity);
    assert_non_null(text);
    size_t n;
    while ((n = fread(text + length, 1, capacity - length - 1, file)) > 0) {
        length += n;
        if (capacity - length - 1 == 0) {
            capacity *= 2;
            text = realloc(text, capacity);
            assert_non_null(text);
        }
    }
    fclose(file);
    text[length] = '\0';
    return text;
}

bool nd_test_server_wait_log(const struct nd_test_server *server, const char *text, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        char *log = nd_test_server_log(server);
        bool found = strstr(log, text) != NULL;
        free(log);
        if (found)
            return true;
        sleep_ms(10);
    }
    return false;
}

/* The port of "key=HOST:PORT" (text log) or "key":"HOST:PORT" (JSON log)
 * on the listening line; 0 when absent or "off". */
static unsigned port_from_log(const char *log, const char *key)
{
    const char *line = strstr(log, "event=listening");
    if (!line)
        line = strstr(log, "\"event\":\"listening\"");
    if (!line)
        return 0;
    const char *end = strchr(line, '\n');
    if (!end)
        return 0;
    char text_pattern[32], json_pattern[32];
    snprintf(text_pattern, sizeof text_pattern, " %s=", key);
    snprintf(json_pattern, sizeof json_pattern, "\"%s\":\"", key);
    const char *field = strstr(line, text_pattern);
    const char *value = field ? field + strlen(text_pattern) : NULL;
    if (!field || field > end) {
        field = strstr(line, json_pattern);
        value = field ? field + strlen(json_pattern) : NULL;
    }
    if (!field || field > end)
        return 0;
    const char *value_end = value + strcspn(value, " \"\n");
    const char *colon = NULL;
    for (const char *p = value; p < value_end; p++) {
        if (*p == ':')
            colon = p;
    }
    return colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

static void remove_directory(const char *directory)
{
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", directory);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", directory);
}

/* In the child, before exec: /etc/hosts replaced by the file at hosts for
 * this process alone, in a mount namespace of its own. */
static bool replace_hosts_file(const char *hosts)
{
    return unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
           mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) == 0;
}

enum { CANNOT_REPLACE_HOSTS = 77 };

static bool start_server(struct nd_test_server *server, const char *const *extra_args,
                         const char *hosts_text)
{
    memset(server, 0, sizeof *server);
    const char *binary = getenv("NETDIAG_BINARY");
    assert_non_null(binary);
    snprintf(server->directory, sizeof server->directory, "/tmp/netdiag-test-XXXXXX");
    assert_non_null(mkdtemp(server->directory));
    snprintf(server->log_path, sizeof server->log_path, "%s/server.log", server->directory);
    char hosts[sizeof server->directory + 16];
    snprintf(hosts, sizeof hosts, "%s/hosts", server->directory);
    if (hosts_text) {
        FILE *file = fopen(hosts, "w");
        assert_non_null(file);
        assert_true(fputs(hosts_text, file) >= 0);
        assert_int_equal(fclose(file), 0);
    }

    const char *argv[MAX_ARGS];
    size_t argc = 0;
    argv[argc++] = binary;
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--echo-listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--log-format";
    argv[argc++] = "text";
    for (size_t i = 0; extra_args && extra_args[i]; i++) {
        assert_true(argc < MAX_ARGS - 1);
        argv[argc++] = extra_args[i];
    }
    argv[argc] = NULL;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(server->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        close(fd);
        if (hosts_text && !replace_hosts_file(hosts))
            _exit(CANNOT_REPLACE_HOSTS);
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    server->pid = pid;

    for (int waited = 0; waited < 10000; waited += 10) {
        char *log = nd_test_server_log(server);
        server->http_port = port_from_log(log, "http");
        server->echo_port = port_from_log(log, "echo");
        server->echo_udp_port = port_from_log(log, "echo_udp");
        free(log);
        if (server->http_port)
            break;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            server->pid = 0;
            if (hosts_text && WIFEXITED(status) && WEXITSTATUS(status) == CANNOT_REPLACE_HOSTS) {
                remove_directory(server->directory);
                return false;
            }
            char *text = nd_test_server_log(server);
            fprintf(stderr, "netdiag exited at start:\n%s\n", text);
            free(text);
            fail_msg("netdiag did not start");
        }
        sleep_ms(10);
    }
    assert_true(server->http_port > 0);
    snprintf(server->base_url, sizeof server->base_url, "http://127.0.0.1:%u", server->http_port);
    return true;
}

void nd_test_server_start(struct nd_test_server *server, const char *const *extra_args)
{
    start_server(server, extra_args, NULL);
}

void nd_test_server_use_https(struct nd_test_server *server, const char *ca_file)
{
    snprintf(server->base_url, sizeof server->base_url, "https://localhost:%u", server->http_port);
    snprintf(server->ca_file, sizeof server->ca_file, "%s", ca_file);
}

bool nd_test_server_start_with_hosts(struct nd_test_server *server, const char *const *extra_args,
                                     const char *hosts)
{
    return start_server(server, extra_args, hosts);
}

int nd_test_server_stop(struct nd_test_server *server, int timeout_ms)
{
    if (server->pid <= 0)
        return -1;
    assert_int_equal(kill(server->pid, SIGTERM), 0);
    int status = 0;
    int waited = 0;
    for (;;) {
        pid_t done = waitpid(server->pid, &status, WNOHANG);
        if (done == server->pid)
            break;
        if (waited >= timeout_ms) {
            kill(server->pid, SIGKILL);
            waitpid(server->pid, &status, 0);
            server->pid = 0;
            fail_msg("netdiag did not exit within %d ms of SIGTERM", timeout_ms);
        }
        sleep_ms(10);
        waited += 10;
    }
    server->pid = 0;
    if (getenv("NETDIAG_TEST_KEEP_LOGS") == NULL)
        remove_directory(server->directory);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

struct growing_buffer {
    char *data;
    size_t length;
};

static size_t collect(char *data, size_t size, size_t count, void *context)
{
    struct growing_buffer *buffer = context;
    size_t n = size * count;
    char *grown = realloc(buffer->data, buffer->length + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + buffer->length, data, n);
    buffer->length += n;
    grown[buffer->length] = '\0';
    buffer->data = grown;
    return n;
}

void nd_test_request(const struct nd_test_server *server, const char *method, const char *path,
                     const char *const *headers, struct nd_test_response *response)
{
    memset(response, 0, sizeof *response);
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    char url[16384];
    int length = snprintf(url, sizeof url, "%s%s", server->base_url, path);
    assert_true(length > 0 && (size_t)length < sizeof url); /* never a silently shorter URL */
    struct growing_buffer body = {0}, head = {0};
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);

    curl_easy_setopt(curl, CURLOPT_URL, url);
    /* Send the target exactly as written, so tests can send broken escapes. */
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (server->ca_file[0])
        curl_easy_setopt(curl, CURLOPT_CAINFO, server->ca_file);
    CURLcode result = curl_easy_perform(curl);
    if (result != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(result));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
    curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &response->seconds);
    char *type = NULL;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    if (type)
        snprintf(response->content_type, sizeof response->content_type, "%s", type);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);

    response->body = body.data ? body.data : strdup("");
    response->body_length = body.length;
    response->headers = head.data ? head.data : strdup("");
    if (strstr(response->content_type, "json"))
        response->json = cJSON_ParseWithLength(response->body, response->body_length);
}

void nd_test_get(const struct nd_test_server *server, const char *path,
                 struct nd_test_response *response)
{
    nd_test_request(server, "GET", path, NULL, response);
}

bool nd_test_header(const struct nd_test_response *response, const char *name, char *value,
                    size_t size)
{
    size_t name_length = strlen(name);
    for (const char *line = response->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t length = end ? (size_t)(end - line) : strlen(line);
        if (length > name_length && strncasecmp(line, name, name_length) == 0 &&
            line[name_length] == ':') {
            const char *start = line + name_length + 1;
            while (*start == ' ')
                start++;
            size_t value_length = (size_t)(line + length - start);
            if (value_length >= size)
                value_length = size - 1;
            memcpy(value, start, value_length);
            value[value_length] = '\0';
            return true;
        }
        line = end ? end + 2 : NULL;
    }
    return false;
}

void nd_test_response_free(struct nd_test_response *response)
{
    free(response->body);
    free(response->headers);
    cJSON_Delete(response->json);
    memset(response, 0, sizeof *response);
}

void nd_test_assert_problem(const struct nd_test_response *response, long status, const char *code,
                            const char *param)
{
    if (response->status != status)
        fail_msg("expected status %ld, got %ld: %s", status, response->status, response->body);
    assert_string_equal(response->content_type, "application/problem+json");
    assert_non_null(response->json);
    assert_int_equal((long)nd_test_json_number(response->json, "status"), status);
    assert_string_equal(nd_test_json_string(response->json, "code"), code);
    assert_true(strlen(nd_test_json_string(response->json, "title")) > 0);
    assert_true(strlen(nd_test_json_string(response->json, "detail")) > 0);
    assert_true(strncmp(nd_test_json_string(response->json, "type"), "tag:", 4) == 0);
    const cJSON *actual = cJSON_GetObjectItemCaseSensitive(response->json, "param");
    if (param == NULL) {
        assert_null(actual);
    } else if (strcmp(param, "*") != 0) {
        assert_non_null(actual);
        assert_string_equal(actual->valuestring, param);
    }
}

const cJSON *nd_test_json_get(const cJSON *object, const char *path)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", path);
    const cJSON *node = object;
    char *saveptr = NULL;
    for (char *part = strtok_r(copy, ".", &saveptr); part; part = strtok_r(NULL, ".", &saveptr)) {
        if (cJSON_IsArray(node)) {
            node = cJSON_GetArrayItem(node, atoi(part));
        } else {
            node = cJSON_GetObjectItemCaseSensitive(node, part);
        }
        if (!node)
            fail_msg("JSON has no '%s' (stopped at '%s')", path, part);
    }
    return node;
}

double nd_test_json_number(const cJSON *object, const char *path)
{
    const cJSON *node = nd_test_json_get(object, path);
    if (!cJSON_IsNumber(node))
        fail_msg("JSON '%s' is not a number", path);
    return node->valuedouble;
}

const char *nd_test_json_string(const cJSON *object, const char *path)
{
    const cJSON *node = nd_test_json_get(object, path);
    if (!cJSON_IsString(node))
        fail_msg("JSON '%s' is not a string", path);
    return node->valuestring;
}

const cJSON *nd_test_json_find(const cJSON *object, const char *path, const char *key,
                               const char *value)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, nd_test_json_get(object, path))
    {
        if (strcmp(nd_test_json_string(item, key), value) == 0)
            return item;
    }
    return NULL;
}

bool nd_test_json_bool(const cJSON *object, const char *path)
{
    const cJSON *node = nd_test_json_get(object, path);
    if (!cJSON_IsBool(node))
        fail_msg("JSON '%s' is not a boolean", path);
    return cJSON_IsTrue(node);
}

/* A TCP connection to 127.0.0.1:port, or -1 with errno when it is refused. */
static int try_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int nd_test_connect(unsigned port)
{
    int fd = try_connect(port);
    if (fd < 0)
        fail_msg("connect to 127.0.0.1:%u: %s", port, strerror(errno));
    return fd;
}

void nd_test_send_all(int fd, const char *data, size_t length)
{
    size_t sent = 0;
    while (sent < length) {
        ssize_t n = send(fd, data + sent, length - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer and close before reading it all */
        sent += (size_t)n;
    }
}

long nd_test_raw_status(unsigned port, const char *request, size_t length)
{
    int fd = try_connect(port);
    if (fd < 0)
        return 0;
    nd_test_send_all(fd, request, length);
    char answer[256] = "";
    size_t got = 0;
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    while (got < sizeof answer - 1 && poll(&entry, 1, 5000) == 1) {
        ssize_t n = recv(fd, answer + got, sizeof answer - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    long status = 0;
    sscanf(answer, "HTTP/1.%*d %ld", &status);
    return status;
}

void nd_test_fake_start(const char *tool, const char *mode, const char *directory,
                        struct nd_test_fake *fake)
{
    char path[256], port_file[320];
    nd_test_tool_path(tool, path, sizeof path);
    snprintf(port_file, sizeof port_file, "%s/%s-%s.port", directory, tool, mode);
    snprintf(fake->log_path, sizeof fake->log_path, "%s/%s-%s.log", directory, tool, mode);
    unlink(port_file);
    const char *argv[] = {path, "--port-file",   port_file, "--mode",
                          mode, "--max-seconds", "120",     NULL};
    fake->pid = nd_test_spawn(argv, fake->log_path);
    fake->port = nd_test_read_port_file(port_file, 5000);
    assert_true(fake->port > 0);
}

pid_t nd_test_spawn(const char *const *argv, const char *log_path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        close(fd);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int nd_test_terminate(pid_t pid)
{
    int status = 0;
    if (pid <= 0 || kill(pid, SIGTERM) != 0)
        return -1;
    for (int waited = 0; waitpid(pid, &status, WNOHANG) != pid; waited += 10) {
        if (waited >= 5000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        sleep_ms(10);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void nd_test_tool_path(const char *name, char *out, size_t size)
{
    const char *directory = getenv("NETDIAG_TOOLS_DIR");
    snprintf(out, size, "%s/%s", directory ? directory : ".", name);
}

unsigned nd_test_count_in_file(const char *path, const char *text)
{
    struct nd_test_server pretend;
    snprintf(pretend.log_path, sizeof pretend.log_path, "%s", path);
    char *content = nd_test_server_log(&pretend);
    unsigned count = 0;
    for (const char *p = strstr(content, text); p; p = strstr(p + 1, text))
        count++;
    free(content);
    return count;
}

unsigned nd_test_read_port_file(const char *path, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        FILE *file = fopen(path, "r");
        if (file) {
            unsigned port = 0;
            int matched = fscanf(file, "%u", &port);
            fclose(file);
            if (matched == 1 && port > 0)
                return port;
        }
        sleep_ms(10);
    }
    return 0;
}

int nd_test_udp_socket(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t length = sizeof address;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    *port = ntohs(address.sin_port);
    return fd;
}

static size_t discard_body(char *data, size_t size, size_t count, void *context)
{
    (void)data;
    (void)context;
    return size * count;
}

void nd_test_get_all(const struct nd_test_server *server, const char *path, unsigned count,
                     long *statuses)
{
    CURLM *multi = curl_multi_init();
    assert_non_null(multi);
    CURL **handles = calloc(count, sizeof *handles);
    assert_non_null(handles);
    char url[1024];
    snprintf(url, sizeof url, "%s%s", server->base_url, path);
    for (unsigned i = 0; i < count; i++) {
        handles[i] = curl_easy_init();
        assert_non_null(handles[i]);
        curl_easy_setopt(handles[i], CURLOPT_URL, url);
        curl_easy_setopt(handles[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(handles[i], CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(handles[i], CURLOPT_WRITEFUNCTION, discard_body);
        curl_multi_add_handle(multi, handles[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        if (running)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    for (unsigned i = 0; i < count; i++) {
        statuses[i] = 0;
        curl_easy_getinfo(handles[i], CURLINFO_RESPONSE_CODE, &statuses[i]);
        curl_multi_remove_handle(multi, handles[i]);
        curl_easy_cleanup(handles[i]);
    }
    curl_multi_cleanup(multi);
    free(handles);
}

struct nd_test_batch {
    const struct nd_test_server *server;
    char path[1024];
    unsigned count;
    long *statuses;
    pthread_t thread;
};

static void *get_all_on_thread(void *argument)
{
    struct nd_test_batch *batch = argument;
    nd_test_get_all(batch->server, batch->path, batch->count, batch->statuses);
    return NULL;
}

struct nd_test_batch *nd_test_get_all_begin(const struct nd_test_server *server, const char *path,
                                            unsigned count)
{
    struct nd_test_batch *batch = calloc(1, sizeof *batch);
    assert_non_null(batch);
    batch->statuses = calloc(count, sizeof *batch->statuses);
    assert_non_null(batch->statuses);
    batch->server = server;
    batch->count = count;
    snprintf(batch->path, sizeof batch->path, "%s", path);
    assert_int_equal(pthread_create(&batch->thread, NULL, get_all_on_thread, batch), 0);
    return batch;
}

void nd_test_get_all_end(struct nd_test_batch *batch, long *statuses)
{
    assert_int_equal(pthread_join(batch->thread, NULL), 0);
    memcpy(statuses, batch->statuses, batch->count * sizeof *statuses);
    free(batch->statuses);
    free(batch);
}

int nd_test_command(const char *command, char *out, size_t size)
{
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    size_t length = fread(out, 1, size - 1, pipe);
    out[length] = '\0';
    int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

unsigned nd_test_free_port_on(const char *const *addresses, size_t count)
{
    static bool seeded;
    if (!seeded) {
        srand((unsigned)getpid() ^ (unsigned)time(NULL));
        seeded = true;
    }
    for (int attempt = 0; attempt < 200; attempt++) {
        unsigned port = 20000 + (unsigned)rand() % 12000;
        bool free = true;
        for (size_t i = 0; i < count && free; i++) {
            struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
            assert_int_equal(inet_pton(AF_INET, addresses[i], &address.sin_addr), 1);
            int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            free = udp >= 0 && tcp >= 0 &&
                   bind(udp, (struct sockaddr *)&address, sizeof address) == 0 &&
                   bind(tcp, (struct sockaddr *)&address, sizeof address) == 0;
            if (udp >= 0)
                close(udp);
            if (tcp >= 0)
                close(tcp);
        }
        if (free)
            return port;
    }
    fail_msg("no port free for UDP and TCP on every address");
    return 0;
}

int nd_test_group_setup(void **state)
{
    struct nd_test_server *server = calloc(1, sizeof *server);
    assert_non_null(server);
    nd_test_server_start(server, NULL);
    *state = server;
    return 0;
}

int nd_test_group_teardown(void **state)
{
    struct nd_test_server *server = *state;
    int status = nd_test_server_stop(server, 10000);
    free(server);
    return status == 0 ? 0 : -1;
}

void nd_test_expect_bad_inputs(const struct nd_test_server *server,
                               const struct nd_test_bad_input *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct nd_test_response response;
        nd_test_get(server, cases[i].path, &response);
        nd_test_assert_problem(&response, 400, cases[i].code, cases[i].param);
        nd_test_response_free(&response);
    }
}

long nd_test_resident_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    long kib = -1;
    while (fgets(line, sizeof line, file)) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    }
    fclose(file);
    return kib;
}
