/* GET /dns against the real binary and a real DNS server: unbound on a
 * loopback port (tests/dns/prepare.sh), serving a signed test zone with
 * every type the issue lists. Each answer is compared field by field with
 * dig asking the same server the same question. Also NXDOMAIN, SERVFAIL (a
 * resolver with no upstream), REFUSED, truncation and the TCP retry,
 * DNSSEC's DO and AD, rd=0, PTR of both families, a silent server (504),
 * one that answers with text (502), bad parameters, the allow list,
 * server=all and the default from resolv.conf. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "harness.h"

static struct nd_test_server server;
static pid_t unbound_pid;
static unsigned unbound_port;
static char work_directory[256];

static int start_all(void **state)
{
    (void)state;
    snprintf(work_directory, sizeof work_directory, "/tmp/netdiag-dns-XXXXXX");
    assert_non_null(mkdtemp(work_directory));
    static const char *const loopback[] = {"127.0.0.1"};
    unbound_port = nd_test_free_port_on(loopback, 1);
    char script[512], command[1024], config[320], log_path[320];
    nd_test_source_path("tests/dns/prepare.sh", script, sizeof script);
    snprintf(command, sizeof command, "bash '%s' '%s' %u", script, work_directory, unbound_port);
    assert_int_equal(system(command), 0);
    snprintf(config, sizeof config, "%s/unbound.conf", work_directory);
    snprintf(log_path, sizeof log_path, "%s/unbound.log", work_directory);
    const char *argv[] = {"unbound", "-d", "-c", config, NULL};
    unbound_pid = nd_test_spawn(argv, log_path);

    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%u", unbound_port);
    nd_test_server_start(&server, (const char *[]){"--dns-servers", servers, NULL});
    for (int attempt = 0; attempt < 40; attempt++) {
        struct nd_test_response response;
        nd_test_get(&server, "/dns?name=www.netdiag.test&timeout_ms=500", &response);
        long status = response.status;
        nd_test_response_free(&response);
        if (status == 200)
            return 0;
        usleep(250 * 1000);
    }
    char *log = NULL;
    size_t length = 0;
    FILE *file = fopen(log_path, "r");
    if (file) {
        log = calloc(1, 8192);
        length = log ? fread(log, 1, 8191, file) : 0;
        fclose(file);
    }
    fail_msg("unbound on port %u never answered; its log (%zu bytes):\n%s", unbound_port, length,
             log ? log : "");
    return -1;
}

static int stop_all(void **state)
{
    (void)state;
    int status = nd_test_server_stop(&server, 15000);
    nd_test_terminate(unbound_pid);
    char command[300];
    snprintf(command, sizeof command, "rm -rf '%s'", work_directory);
    if (system(command) != 0)
        return -1;
    return status == 0 ? 0 : -1;
}

/* --- dig's view of the same question. --- */

enum { DIG_RECORDS_MAX = 48 };

struct dig_record {
    char name[256];
    unsigned ttl;
    char type[24];
    char data[2048];
};

struct dig_answer {
    char status[24];
    char flags[64];
    unsigned message_size;
    /* Answer, authority, additional. */
    struct dig_record records[3][DIG_RECORDS_MAX];
    size_t counts[3];
};

/* Runs dig with options and parses its default output. */
static void dig(const char *options, struct dig_answer *answer)
{
    memset(answer, 0, sizeof *answer);
    char command[1024];
    snprintf(command, sizeof command, "dig @127.0.0.1 -p %u +nocookie +tries=1 +time=3 %s 2>&1",
             unbound_port, options);
    FILE *output = popen(command, "r");
    assert_non_null(output);
    static char line[8192];
    int section = -1;
    while (fgets(line, sizeof line, output)) {
        line[strcspn(line, "\n")] = '\0';
        const char *status = strstr(line, "status: ");
        if (strncmp(line, ";; ->>HEADER<<-", 15) == 0 && status)
            sscanf(status, "status: %23[A-Z0-9]", answer->status);
        if (strncmp(line, ";; flags: ", 10) == 0)
            sscanf(line, ";; flags: %63[^;]", answer->flags);
        if (strncmp(line, ";; MSG SIZE  rcvd: ", 19) == 0)
            answer->message_size = (unsigned)atoi(line + 19);
        if (strcmp(line, ";; ANSWER SECTION:") == 0)
            section = 0;
        else if (strcmp(line, ";; AUTHORITY SECTION:") == 0)
            section = 1;
        else if (strcmp(line, ";; ADDITIONAL SECTION:") == 0)
            section = 2;
        else if (line[0] == '\0' || line[0] == ';')
            continue;
        if (section < 0 || line[0] == ';' || answer->counts[section] == DIG_RECORDS_MAX)
            continue;
        /* NAME TTL CLASS TYPE DATA, tab-separated, DATA to the end. */
        struct dig_record *record = &answer->records[section][answer->counts[section]];
        char *cursor = line;
        char *fields[4];
        for (int i = 0; i < 4; i++) {
            cursor += strspn(cursor, "\t ");
            fields[i] = cursor;
            cursor += strcspn(cursor, "\t ");
            if (*cursor)
                *cursor++ = '\0';
        }
        cursor += strspn(cursor, "\t ");
        snprintf(record->name, sizeof record->name, "%s", fields[0]);
        record->ttl = (unsigned)atoi(fields[1]);
        snprintf(record->type, sizeof record->type, "%s", fields[3]);
        snprintf(record->data, sizeof record->data, "%s", cursor);
        answer->counts[section]++;
    }
    pclose(output);
    assert_true(answer->status[0] != '\0');
}

/* Types whose presentation dig and ldns write differently, though RFC
 * presentation formats allow both: SVCB/HTTPS values quoted or not (RFC 9460
 * section 2.1), hex in either case and base64 or hex split by spaces (TLSA,
 * SSHFP, DS, RRSIG, DNSKEY: RFC 4034 sections 2.2 and 3.2), LOC's optional
 * zeros and decimals (RFC 1876 section 3). There the test compares the RDATA
 * the two texts stand for, through ldns's reader. */
static bool same_rdata(const char *type, const char *ours, const char *theirs)
{
    if (strcmp(ours, theirs) == 0)
        return true;
    static const char *const lenient[] = {"SVCB", "HTTPS", "TLSA",  "SSHFP",
                                          "LOC",  "DS",    "RRSIG", "DNSKEY"};
    bool allowed = false;
    for (size_t i = 0; i < sizeof lenient / sizeof lenient[0]; i++)
        allowed = allowed || strcmp(type, lenient[i]) == 0;
    if (!allowed)
        return false;
    char text[4200];
    ldns_rr *a = NULL, *b = NULL;
    snprintf(text, sizeof text, "x. 0 IN %s %s", type, ours);
    bool parsed = ldns_rr_new_frm_str(&a, text, 0, NULL, NULL) == LDNS_STATUS_OK;
    snprintf(text, sizeof text, "x. 0 IN %s %s", type, theirs);
    parsed = ldns_rr_new_frm_str(&b, text, 0, NULL, NULL) == LDNS_STATUS_OK && parsed;
    bool same = parsed && ldns_rr_compare(a, b) == 0;
    ldns_rr_free(a);
    ldns_rr_free(b);
    return same;
}

/* dig's quoted character-strings, unquoted as netdiag lists them: \" is a
 * quote; \\ and \DDD stay escaped, as they do in netdiag's list. */
static size_t dig_strings(const char *data, char strings[][256], size_t max)
{
    size_t count = 0;
    for (const char *p = data; *p && count < max;) {
        if (*p != '"') {
            p++;
            continue;
        }
        size_t used = 0;
        for (p++; *p && *p != '"'; p++) {
            if (p[0] == '\\' && p[1] == '"')
                p++;
            else if (p[0] == '\\' && p[1])
                strings[count][used++] = *p++;
            strings[count][used++] = *p;
        }
        strings[count++][used] = '\0';
        if (*p)
            p++;
    }
    return count;
}

static void check_fields(const cJSON *record, const struct dig_record *expected)
{
    const char *type = expected->type;
    char a[256] = "", b[256] = "", value[512] = "";
    unsigned n[5] = {0};
    if (strcmp(type, "MX") == 0) {
        assert_int_equal(sscanf(expected->data, "%u %255s", &n[0], a), 2);
        assert_int_equal(nd_test_json_number(record, "fields.preference"), n[0]);
        assert_string_equal(nd_test_json_string(record, "fields.exchange"), a);
    } else if (strcmp(type, "SRV") == 0) {
        assert_int_equal(sscanf(expected->data, "%u %u %u %255s", &n[0], &n[1], &n[2], a), 4);
        assert_int_equal(nd_test_json_number(record, "fields.priority"), n[0]);
        assert_int_equal(nd_test_json_number(record, "fields.weight"), n[1]);
        assert_int_equal(nd_test_json_number(record, "fields.port"), n[2]);
        assert_string_equal(nd_test_json_string(record, "fields.target"), a);
    } else if (strcmp(type, "SOA") == 0) {
        assert_int_equal(sscanf(expected->data, "%255s %255s %u %u %u %u %u", a, b, &n[0], &n[1],
                                &n[2], &n[3], &n[4]),
                         7);
        assert_string_equal(nd_test_json_string(record, "fields.mname"), a);
        assert_string_equal(nd_test_json_string(record, "fields.rname"), b);
        static const char *const names[] = {"fields.serial", "fields.refresh", "fields.retry",
                                            "fields.expire", "fields.minimum"};
        for (int i = 0; i < 5; i++)
            assert_true(nd_test_json_number(record, names[i]) == (double)n[i]);
    } else if (strcmp(type, "CAA") == 0) {
        assert_int_equal(sscanf(expected->data, "%u %255s \"%511[^\"]\"", &n[0], a, value), 3);
        assert_int_equal(nd_test_json_number(record, "fields.flags"), n[0]);
        assert_string_equal(nd_test_json_string(record, "fields.tag"), a);
        assert_string_equal(nd_test_json_string(record, "fields.value"), value);
    } else if (strcmp(type, "TXT") == 0) {
        static char strings[16][256];
        size_t count = dig_strings(expected->data, strings, 16);
        const cJSON *list = nd_test_json_get(record, "fields.strings");
        assert_int_equal(cJSON_GetArraySize(list), count);
        for (size_t i = 0; i < count; i++)
            assert_string_equal(cJSON_GetArrayItem(list, (int)i)->valuestring, strings[i]);
    } else {
        assert_null(cJSON_GetObjectItemCaseSensitive(record, "fields"));
    }
}

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void compare_with_dig(const cJSON *json, const char *dig_options)
{
    struct dig_answer expected;
    double before = seconds_now();
    dig(dig_options, &expected);
    /* The resolver's cache counts TTLs down between the two questions: by
     * the seconds between them, and one more for where the second ticks. */
    double ttl_slack = (double)(long)(seconds_now() - before) + 2.0;
    assert_string_equal(nd_test_json_string(json, "rcode"), expected.status);
    char flags[64] = "";
    const cJSON *flag;
    cJSON_ArrayForEach(flag, nd_test_json_get(json, "flags"))
    {
        snprintf(flags + strlen(flags), sizeof flags - strlen(flags), "%s%s", flags[0] ? " " : "",
                 flag->valuestring);
    }
    if (strcmp(flags, expected.flags) != 0)
        fail_msg("%s: flags '%s', dig says '%s'", dig_options, flags, expected.flags);
    /* The same question with the same EDNS size: the same reply, byte for
     * byte in length (dig's own TCP retry included). */
    assert_int_equal(nd_test_json_number(json, "message_size"), expected.message_size);
    static const char *const sections[] = {"Answer", "Authority", "Additional"};
    for (int s = 0; s < 3; s++) {
        const cJSON *list = nd_test_json_get(json, sections[s]);
        if ((size_t)cJSON_GetArraySize(list) != expected.counts[s])
            fail_msg("%s: %s has %d records, dig shows %zu", dig_options, sections[s],
                     cJSON_GetArraySize(list), expected.counts[s]);
        for (size_t i = 0; i < expected.counts[s]; i++) {
            const cJSON *record = cJSON_GetArrayItem(list, (int)i);
            const struct dig_record *theirs = &expected.records[s][i];
            assert_int_equal(strcasecmp(nd_test_json_string(record, "name"), theirs->name), 0);
            assert_string_equal(nd_test_json_string(record, "type_name"), theirs->type);
            double ttl = nd_test_json_number(record, "TTL");
            if (ttl > theirs->ttl + ttl_slack || ttl + ttl_slack < theirs->ttl)
                fail_msg("%s %s: TTL %.0f, dig says %u", theirs->name, theirs->type, ttl,
                         theirs->ttl);
            const char *data = nd_test_json_string(record, "data");
            if (!same_rdata(theirs->type, data, theirs->data))
                fail_msg("%s %s: data '%s', dig says '%s'", theirs->name, theirs->type, data,
                         theirs->data);
            check_fields(record, theirs);
        }
    }
}

static cJSON *get_json(const char *path, long status, struct nd_test_response *response)
{
    nd_test_get(&server, path, response);
    if (response->status != status)
        fail_msg("%s: status %ld, expected %ld: %s", path, response->status, status,
                 response->body);
    assert_non_null(response->json);
    return response->json;
}

static void test_every_type_as_dig_sees_it(void **state)
{
    (void)state;
    static const struct {
        const char *name, *type;
    } cases[] = {
        {"www.netdiag.test", "A"},
        {"www.netdiag.test", "AAAA"},
        {"alias.netdiag.test", "CNAME"},
        {"alias.netdiag.test", "A"}, /* the CNAME and its target */
        {"netdiag.test", "MX"},
        {"netdiag.test", "TXT"},
        {"multi.netdiag.test", "TXT"},
        {"_sip._tcp.netdiag.test", "SRV"},
        {"netdiag.test", "NS"},
        {"netdiag.test", "SOA"},
        {"netdiag.test", "CAA"},
        {"netdiag.test", "HTTPS"},
        {"alias-mode.netdiag.test", "HTTPS"},
        {"svc.netdiag.test", "SVCB"},
        {"host.netdiag.test", "HINFO"},
        {"_443._tcp.www.netdiag.test", "TLSA"},
        {"www.netdiag.test", "SSHFP"},
        {"naptr.netdiag.test", "NAPTR"},
        {"loc.netdiag.test", "LOC"},
        {"netdiag.test", "DNSKEY"},
        {"www.netdiag.test", "TYPE65280"}, /* NOERROR, no data */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256], options[256];
        snprintf(path, sizeof path, "/dns?name=%s&type=%s", cases[i].name, cases[i].type);
        snprintf(options, sizeof options, "%s %s", cases[i].name, cases[i].type);
        struct nd_test_response response;
        const cJSON *json = get_json(path, 200, &response);
        assert_string_equal(nd_test_json_string(json, "Question.0.type_name"),
                            strcmp(cases[i].type, "TYPE65280") == 0 ? "TYPE65280" : cases[i].type);
        assert_string_equal(nd_test_json_string(json, "transport"), "udp");
        assert_int_equal(nd_test_json_number(json, "server.port"), unbound_port);
        assert_true(nd_test_json_number(json, "query_time_ms") >= 0);
        compare_with_dig(json, options);
        nd_test_response_free(&response);
    }
}

static void test_dns_outcomes_are_data(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int status;
        const char *rcode;
    } cases[] = {
        {"nope.netdiag.test", 3, "NXDOMAIN"},
        /* unbound here has no upstream at all: anything outside its zones. */
        {"example.com", 2, "SERVFAIL"},
        {"x.refused.test", 5, "REFUSED"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "/dns?name=%s", cases[i].name);
        struct nd_test_response response;
        const cJSON *json = get_json(path, 200, &response);
        assert_int_equal(nd_test_json_number(json, "Status"), cases[i].status);
        assert_string_equal(nd_test_json_string(json, "rcode"), cases[i].rcode);
        compare_with_dig(json, cases[i].name);
        nd_test_response_free(&response);
    }
}

static void test_truncated_then_tcp(void **state)
{
    (void)state;
    struct nd_test_response response;
    const cJSON *json = get_json("/dns?name=big.netdiag.test&type=TXT", 200, &response);
    assert_string_equal(nd_test_json_string(json, "transport"), "tcp");
    assert_true(nd_test_json_bool(json, "udp_truncated"));
    assert_int_equal(nd_test_json_number(json, "udp_packets_sent"), 1);
    assert_false(nd_test_json_bool(json, "TC"));
    assert_true(nd_test_json_number(json, "message_size") > 1232);
    assert_int_equal(cJSON_GetArraySize(nd_test_json_get(json, "Answer.0.fields.strings")), 8);
    compare_with_dig(json, "big.netdiag.test TXT");
    nd_test_response_free(&response);

    /* tcp=1: TCP from the start, no datagram. */
    json = get_json("/dns?name=www.netdiag.test&tcp=1", 200, &response);
    assert_string_equal(nd_test_json_string(json, "transport"), "tcp");
    assert_false(nd_test_json_bool(json, "udp_truncated"));
    assert_int_equal(nd_test_json_number(json, "udp_packets_sent"), 0);
    compare_with_dig(json, "+tcp www.netdiag.test");
    nd_test_response_free(&response);
}

static bool has_type(const cJSON *list, const char *type)
{
    const cJSON *record;
    cJSON_ArrayForEach(record, list)
    {
        if (strcmp(nd_test_json_string(record, "type_name"), type) == 0)
            return true;
    }
    return false;
}

static void test_dnssec_and_recursion_flags(void **state)
{
    (void)state;
    struct nd_test_response response;
    const cJSON *json = get_json("/dns?name=www.netdiag.test&dnssec=1", 200, &response);
    /* unbound validated the signed zone with the test's trust anchor. */
    assert_true(nd_test_json_bool(json, "AD"));
    assert_true(nd_test_json_bool(json, "edns.do"));
    assert_true(has_type(nd_test_json_get(json, "Answer"), "RRSIG"));
    compare_with_dig(json, "+dnssec www.netdiag.test");
    nd_test_response_free(&response);

    json = get_json("/dns?name=www.netdiag.test", 200, &response);
    assert_false(nd_test_json_bool(json, "edns.do"));
    assert_false(has_type(nd_test_json_get(json, "Answer"), "RRSIG"));
    assert_true(nd_test_json_bool(json, "RD"));
    nd_test_response_free(&response);

    json = get_json("/dns?name=www.netdiag.test&rd=0", 200, &response);
    assert_false(nd_test_json_bool(json, "RD"));
    compare_with_dig(json, "+norecurse www.netdiag.test");
    nd_test_response_free(&response);
}

static void test_ptr_of_an_address(void **state)
{
    (void)state;
    static const struct {
        const char *address, *asked;
    } cases[] = {
        {"192.0.2.10", "10.2.0.192.in-addr.arpa."},
        {"2001:db8::10",
         "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256], options[256];
        snprintf(path, sizeof path, "/dns?name=%s&type=PTR", cases[i].address);
        snprintf(options, sizeof options, "-x %s", cases[i].address);
        struct nd_test_response response;
        const cJSON *json = get_json(path, 200, &response);
        assert_string_equal(nd_test_json_string(json, "Question.0.name"), cases[i].asked);
        assert_string_equal(nd_test_json_string(json, "Answer.0.data"), "www.netdiag.test.");
        compare_with_dig(json, options);
        nd_test_response_free(&response);
    }
}

static void start_fake(const char *mode, struct nd_test_fake *fake)
{
    nd_test_fake_start("fake_dns_server", mode, work_directory, fake);
}

static void test_silent_and_non_dns_servers(void **state)
{
    (void)state;
    struct nd_test_fake fake;
    start_fake("silent", &fake);
    char path[160];
    snprintf(path, sizeof path, "/dns?name=www.netdiag.test&server=127.0.0.1:%u&timeout_ms=600",
             fake.port);
    struct nd_test_response response;
    nd_test_get(&server, path, &response);
    nd_test_assert_problem(&response, 504, "timeout", "server");
    assert_true(response.seconds >= 0.59 && response.seconds < 3.0);
    assert_int_equal(nd_test_json_number(response.json, "server.port"), fake.port);
    assert_int_equal(nd_test_json_number(response.json, "udp_packets_sent"), 3);
    nd_test_response_free(&response);
    /* Three packets, bounded: no more arrive after the answer. */
    usleep(200 * 1000);
    assert_int_equal(nd_test_count_in_file(fake.log_path, "received a query"), 3);
    assert_int_equal(nd_test_terminate(fake.pid), 0);

    start_fake("text", &fake);
    snprintf(path, sizeof path, "/dns?name=www.netdiag.test&server=127.0.0.1:%u", fake.port);
    nd_test_get(&server, path, &response);
    nd_test_assert_problem(&response, 502, "bad_upstream_reply", "server");
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "not a DNS message"));
    nd_test_response_free(&response);
    assert_int_equal(nd_test_terminate(fake.pid), 0);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    static const struct nd_test_bad_input cases[] = {
        {"/dns", "missing_parameter", "name"},
        {"/dns?type=MX", "missing_parameter", "name"},
        {"/dns?name=", "invalid_argument", "name"},
        {"/dns?name=a..b", "invalid_argument", "name"},
        {"/dns?name=bad%20name", "invalid_argument", "name"},
        {"/dns?name=caf%C3%A9.example", "invalid_argument", "name"},
        {"/dns?name=example.com&type=ANY", "invalid_argument", "type"},
        {"/dns?name=example.com&type=255", "invalid_argument", "type"},
        {"/dns?name=example.com&type=AXFR", "invalid_argument", "type"},
        {"/dns?name=example.com&type=NOPE", "invalid_argument", "type"},
        {"/dns?name=example.com&type=0", "invalid_argument", "type"},
        {"/dns?name=example.com&type=65536", "invalid_argument", "type"},
        {"/dns?name=example.com&server=", "invalid_argument", "server"},
        {"/dns?name=example.com&server=a..b", "invalid_argument", "server"},
        {"/dns?name=example.com&server=127.0.0.1:0", "out_of_range", "server"},
        {"/dns?name=example.com&server=127.0.0.1:99999", "out_of_range", "server"},
        {"/dns?name=example.com&server=127.0.0.1:dns", "invalid_argument", "server"},
        {"/dns?name=example.com&timeout_ms=0", "out_of_range", "timeout_ms"},
        {"/dns?name=example.com&timeout_ms=10001", "out_of_range", "timeout_ms"},
        {"/dns?name=example.com&rd=maybe", "invalid_argument", "rd"},
        {"/dns?name=example.com&dnssec=2", "invalid_argument", "dnssec"},
        {"/dns?name=example.com&tcp=x", "invalid_argument", "tcp"},
        {"/dns?name=example.com&qtype=A", "unknown_parameter", "qtype"},
        {"/dns?name=a&name=b", "duplicate_parameter", "name"},
    };
    nd_test_expect_bad_inputs(&server, cases, sizeof cases / sizeof cases[0]);
}

static void test_allow_list(void **state)
{
    (void)state;
    /* The default: resolv.conf's servers (here --dns-servers) and loopback.
     * 10.x is refused before anything is sent. */
    struct nd_test_response response;
    nd_test_get(&server, "/dns?name=www.netdiag.test&server=10.1.2.3", &response);
    nd_test_assert_problem(&response, 403, "forbidden", "server");
    assert_non_null(strstr(nd_test_json_string(response.json, "detail"), "--dns-allow"));
    nd_test_response_free(&response);

    /* A name is looked up, then its address checked. The name is one of
     * this test's own (localhost may come as ::1 first, where unbound does
     * not listen): a netdiag with a private /etc/hosts, which needs root. */
    char path[160];
    struct nd_test_server named;
    if (nd_test_server_start_with_hosts(&named, NULL, "127.0.0.1 dns-server.test\n")) {
        snprintf(path, sizeof path, "/dns?name=www.netdiag.test&server=dns-server.test:%u",
                 unbound_port);
        nd_test_get(&named, path, &response);
        if (response.status != 200)
            fail_msg("%s: status %ld: %s", path, response.status, response.body);
        assert_string_equal(nd_test_json_string(response.json, "server.host"), "dns-server.test");
        assert_string_equal(nd_test_json_string(response.json, "server.address"), "127.0.0.1");
        nd_test_response_free(&response);
        assert_int_equal(nd_test_server_stop(&named, 10000), 0);
    } else {
        printf("a server given by name: not checked (a private /etc/hosts needs root)\n");
    }

    struct nd_test_server guarded;
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%u", unbound_port);
    nd_test_server_start(&guarded, (const char *[]){"--dns-servers", servers, "--dns-allow",
                                                    "192.0.2.0/24,dns.example", NULL});
    snprintf(path, sizeof path, "/dns?name=www.netdiag.test&server=127.0.0.1:%u", unbound_port);
    nd_test_get(&guarded, path, &response);
    nd_test_assert_problem(&response, 403, "forbidden", "server");
    nd_test_response_free(&response);
    /* The default server is checked too: the operator left it out. */
    nd_test_get(&guarded, "/dns?name=www.netdiag.test", &response);
    nd_test_assert_problem(&response, 403, "forbidden", "server");
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&guarded, 10000), 0);
}

static void test_every_default_server_side_by_side(void **state)
{
    (void)state;
    struct nd_test_fake fake;
    start_fake("silent", &fake);
    struct nd_test_server both;
    char servers[96];
    snprintf(servers, sizeof servers, "127.0.0.1:%u,127.0.0.1:%u", unbound_port, fake.port);
    nd_test_server_start(&both, (const char *[]){"--dns-servers", servers, NULL});

    struct nd_test_response response;
    nd_test_get(&both, "/dns?name=www.netdiag.test&server=all&timeout_ms=500", &response);
    assert_int_equal(response.status, 200);
    const cJSON *results = nd_test_json_get(response.json, "results");
    assert_int_equal(cJSON_GetArraySize(results), 2);
    assert_int_equal(nd_test_json_number(response.json, "results.0.server.port"), unbound_port);
    assert_string_equal(nd_test_json_string(response.json, "results.0.rcode"), "NOERROR");
    assert_string_equal(nd_test_json_string(response.json, "results.0.Answer.0.data"),
                        "192.0.2.10");
    assert_int_equal(nd_test_json_number(response.json, "results.1.server.port"), fake.port);
    assert_int_equal(nd_test_json_number(response.json, "results.1.error.status"), 504);
    assert_string_equal(nd_test_json_string(response.json, "results.1.error.code"), "timeout");
    nd_test_response_free(&response);

    /* Without server=all, the first of the list. */
    nd_test_get(&both, "/dns?name=www.netdiag.test", &response);
    assert_int_equal(response.status, 200);
    assert_int_equal(nd_test_json_number(response.json, "server.port"), unbound_port);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&both, 10000), 0);

    /* When none answers, the answer is the first failure's. */
    snprintf(servers, sizeof servers, "127.0.0.1:%u,127.0.0.1:%u", fake.port, fake.port);
    nd_test_server_start(&both, (const char *[]){"--dns-servers", servers, NULL});
    nd_test_get(&both, "/dns?name=www.netdiag.test&server=all&timeout_ms=300", &response);
    nd_test_assert_problem(&response, 504, "timeout", "server");
    assert_int_equal(cJSON_GetArraySize(nd_test_json_get(response.json, "results")), 2);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&both, 10000), 0);
    nd_test_terminate(fake.pid);
}

static void test_default_server_from_resolv_conf(void **state)
{
    (void)state;
    /* resolv.conf cannot carry a port: the default is port 53 on the first
     * nameserver. Only loopback is named, so nothing leaves the machine; no
     * server is expected there (a refusal or silence, both name it). */
    char path[320];
    snprintf(path, sizeof path, "%s/resolv.conf", work_directory);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fprintf(file, "search example.com\nnameserver 127.0.0.9\nnameserver ::1\n");
    fclose(file);
    struct nd_test_server defaulted;
    nd_test_server_start(&defaulted, (const char *[]){"--dns-resolv-conf", path, NULL});
    struct nd_test_response response;
    nd_test_get(&defaulted, "/dns?name=www.netdiag.test&timeout_ms=300", &response);
    assert_true(response.status == 200 || response.status == 502 || response.status == 504);
    assert_string_equal(nd_test_json_string(response.json, "server.host"), "127.0.0.9");
    assert_int_equal(nd_test_json_number(response.json, "server.port"), 53);
    nd_test_response_free(&response);
    assert_int_equal(nd_test_server_stop(&defaulted, 10000), 0);
}

static void test_metrics(void **state)
{
    (void)state;
    struct nd_test_response response;
    nd_test_get(&server, "/metrics", &response);
    assert_int_equal(response.status, 200);
    static const char *const expected[] = {
        "netdiag_dns_queries_total{transport=\"udp\",rcode=\"NOERROR\"} ",
        "netdiag_dns_queries_total{transport=\"tcp\",rcode=\"NOERROR\"} ",
        "netdiag_dns_queries_total{transport=\"udp\",rcode=\"NXDOMAIN\"} ",
        "netdiag_dns_queries_total{transport=\"udp\",rcode=\"SERVFAIL\"} ",
        "netdiag_dns_queries_total{transport=\"udp\",rcode=\"REFUSED\"} ",
        "netdiag_dns_queries_total{transport=\"udp\",rcode=\"no_answer\"} ",
        "netdiag_dns_query_duration_seconds_count ",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const char *line = strstr(response.body, expected[i]);
        if (!line)
            fail_msg("no %s in /metrics", expected[i]);
        /* Each was counted by the tests before this one. */
        assert_true(atoi(line + strlen(expected[i])) > 0);
    }
    nd_test_response_free(&response);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_as_dig_sees_it),
        cmocka_unit_test(test_dns_outcomes_are_data),
        cmocka_unit_test(test_truncated_then_tcp),
        cmocka_unit_test(test_dnssec_and_recursion_flags),
        cmocka_unit_test(test_ptr_of_an_address),
        cmocka_unit_test(test_silent_and_non_dns_servers),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_every_default_server_side_by_side),
        cmocka_unit_test(test_default_server_from_resolv_conf),
        cmocka_unit_test(test_metrics),
    };
    int failed = cmocka_run_group_tests(tests, start_all, stop_all);
    curl_global_cleanup();
    return failed;
}
