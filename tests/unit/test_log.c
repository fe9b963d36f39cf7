/* src/http/log.c: logfmt and JSON lines, escaping, cutting of long values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/log.h"

/* stdout goes to a fresh temporary file for each test, and back after it
 * (cmocka reports on stdout). */
struct capture {
    FILE *file;
    int saved_stdout;
};

static int setup_capture(void **state)
{
    static struct capture capture;
    capture.file = tmpfile();
    assert_non_null(capture.file);
    fflush(stdout);
    capture.saved_stdout = dup(STDOUT_FILENO);
    assert_true(capture.saved_stdout >= 0);
    assert_true(dup2(fileno(capture.file), STDOUT_FILENO) >= 0);
    *state = &capture;
    return 0;
}

static int teardown_capture(void **state)
{
    struct capture *capture = *state;
    fflush(stdout);
    assert_true(dup2(capture->saved_stdout, STDOUT_FILENO) >= 0);
    close(capture->saved_stdout);
    fclose(capture->file);
    return 0;
}

/* Everything logged so far (malloc'd). */
static char *captured(void **state)
{
    nd_log_flush();
    int fd = fileno(((struct capture *)*state)->file);
    struct stat info;
    assert_int_equal(fstat(fd, &info), 0);
    char *text = malloc((size_t)info.st_size + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)info.st_size, 0), info.st_size);
    text[info.st_size] = '\0';
    return text;
}

static const struct nd_access_entry tricky = {
    .method = "GET",
    .target = "/a b\"c\\d\ne\x01\x7f\xc3\xa9",
    .status = 404,
    .bytes = 1234,
    .duration_us = 56,
    .client = "127.0.0.1:5555",
    .request_id = "abc-1",
};

static void test_text_line_quotes_and_escapes(void **state)
{
    nd_log_init(ND_LOG_TEXT);
    nd_log_access(&tricky);
    char *text = captured(state);
    /* One line: the newline in the target cannot start a forged one. */
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
    assert_non_null(strstr(text, " level=info event=access method=GET "
                                 "target=\"/a b\\\"c\\\\d\\u000ae\\u0001\\u007f\xc3\xa9\" "
                                 "status=404 bytes=1234 duration_us=56 client=127.0.0.1:5555 "
                                 "request_id=abc-1\n"));
    assert_int_equal(strncmp(text, "ts=", 3), 0);
    free(text);
}

static void test_json_line_round_trips(void **state)
{
    nd_log_init(ND_LOG_JSON);
    nd_log_access(&tricky);
    nd_log_event("warn", "something", "key", "va\"lue", "other", "", NULL);
    char *text = captured(state);
    char *second = strchr(text, '\n');
    assert_non_null(second);
    *second++ = '\0';
    cJSON *access = cJSON_Parse(text);
    assert_non_null(access);
    assert_string_equal(cJSON_GetObjectItem(access, "target")->valuestring, tricky.target);
    assert_string_equal(cJSON_GetObjectItem(access, "event")->valuestring, "access");
    assert_int_equal(cJSON_GetObjectItem(access, "status")->valueint, 404);
    assert_int_equal(cJSON_GetObjectItem(access, "bytes")->valueint, 1234);
    assert_string_equal(cJSON_GetObjectItem(access, "request_id")->valuestring, "abc-1");
    cJSON_Delete(access);
    cJSON *event = cJSON_Parse(second);
    assert_non_null(event);
    assert_string_equal(cJSON_GetObjectItem(event, "level")->valuestring, "warn");
    assert_string_equal(cJSON_GetObjectItem(event, "key")->valuestring, "va\"lue");
    assert_string_equal(cJSON_GetObjectItem(event, "other")->valuestring, "");
    cJSON_Delete(event);
    free(text);
}

/* A target far longer than a line is cut with "...", and the line stays
 * whole: valid JSON, with the fields after the target. */
static void test_long_target_is_cut_not_the_line(void **state)
{
    size_t size = 20000;
    char *target = malloc(size + 1);
    assert_non_null(target);
    for (size_t i = 0; i < size; i++)
        target[i] = i % 7 == 0 ? '"' : (char)('a' + i % 26);
    target[size] = '\0';
    char method[1001];
    memset(method, 'M', sizeof method - 1);
    method[sizeof method - 1] = '\0';
    struct nd_access_entry entry = tricky;
    entry.target = target;
    entry.method = method; /* any token the client sends */
    nd_log_init(ND_LOG_JSON);
    nd_log_access(&entry);
    char *text = captured(state);
    assert_true(strlen(text) < 4096);
    assert_int_equal(text[strlen(text) - 1], '\n');
    cJSON *line = cJSON_Parse(text);
    assert_non_null(line);
    const char *logged = cJSON_GetObjectItem(line, "target")->valuestring;
    size_t kept = strlen(logged) - 3;
    assert_true(kept > 1500 && kept <= 2048); /* 2048 bytes once escaped */
    assert_string_equal(logged + kept, "...");
    assert_memory_equal(logged, target, kept);
    const char *logged_method = cJSON_GetObjectItem(line, "method")->valuestring;
    assert_int_equal(strlen(logged_method), 512 + 3);
    assert_string_equal(logged_method + 512, "...");
    assert_string_equal(cJSON_GetObjectItem(line, "request_id")->valuestring, "abc-1");
    assert_int_equal(cJSON_GetObjectItem(line, "status")->valueint, 404);
    cJSON_Delete(line);
    free(text);
    free(target);
}

/* Bytes that are not UTF-8 (a raw 0xff in a target, a sequence cut short,
 * an overlong form) become \u00XX escapes: the JSON line stays valid UTF-8,
 * and a request whose answer was not sent says why. */
static void test_invalid_utf8_is_escaped(void **state)
{
    struct nd_access_entry entry = tricky;
    entry.target = "/byteorder?value=1\xff&x=\xc3&y=\xc0\xaf&z=\xe2\x82\xac";
    entry.unsent = "client_closed";
    nd_log_init(ND_LOG_JSON);
    nd_log_access(&entry);
    char *text = captured(state);
    assert_non_null(strstr(text, "\"target\":\"/byteorder?value=1\\u00ff&x=\\u00c3&"
                                 "y=\\u00c0\\u00af&z=\xe2\x82\xac\""));
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p >= 0x80 && *p != 0xe2 && *p != 0x82 && *p != 0xac)
            fail_msg("raw byte 0x%02x in the JSON line", *p);
    }
    cJSON *line = cJSON_Parse(text);
    assert_non_null(line);
    assert_string_equal(cJSON_GetObjectItem(line, "unsent")->valuestring, "client_closed");
    cJSON_Delete(line);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_line_quotes_and_escapes, setup_capture,
                                        teardown_capture),
        cmocka_unit_test_setup_teardown(test_json_line_round_trips, setup_capture,
                                        teardown_capture),
        cmocka_unit_test_setup_teardown(test_long_target_is_cut_not_the_line, setup_capture,
                                        teardown_capture),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_is_escaped, setup_capture,
                                        teardown_capture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
