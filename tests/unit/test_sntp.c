#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netdiag/sntp.h"

/* 2026-11-25T10:00:00Z, the time the recipe's examples revolve around. */
#define RECIPE_UNIX_SECONDS INT64_C(1795600800)
#define NS_PER_SECOND INT64_C(1000000000)
#define MS(x) ((int64_t)(x)*1000000)

/* Every header field of a packet, written to the wire by hand below so the
 * tests do not lean on the module's own encoder. */
struct fields {
    unsigned leap;
    unsigned version;
    unsigned mode;
    unsigned stratum;
    uint8_t poll;
    uint8_t precision;
    uint32_t root_delay;
    uint32_t root_dispersion;
    uint8_t reference_id[4];
    struct nd_sntp_timestamp reference;
    struct nd_sntp_timestamp origin;
    struct nd_sntp_timestamp receive;
    struct nd_sntp_timestamp transmit;
};

static const struct nd_sntp_timestamp test_nonce = {0x1234abcdu, 0x5678ef01u};

static void put_u32(uint8_t *wire, uint32_t value)
{
    wire[0] = (uint8_t)(value >> 24);
    wire[1] = (uint8_t)(value >> 16);
    wire[2] = (uint8_t)(value >> 8);
    wire[3] = (uint8_t)value;
}

static void put_timestamp(uint8_t *wire, struct nd_sntp_timestamp timestamp)
{
    put_u32(wire, timestamp.seconds);
    put_u32(wire + 4, timestamp.fraction);
}

static void build_packet(const struct fields *fields, uint8_t packet[48])
{
    memset(packet, 0, 48);
    packet[0] = (uint8_t)(fields->leap << 6 | fields->version << 3 | fields->mode);
    packet[1] = (uint8_t)fields->stratum;
    packet[2] = fields->poll;
    packet[3] = fields->precision;
    put_u32(packet + 4, fields->root_delay);
    put_u32(packet + 8, fields->root_dispersion);
    memcpy(packet + 12, fields->reference_id, 4);
    put_timestamp(packet + 16, fields->reference);
    put_timestamp(packet + 24, fields->origin);
    put_timestamp(packet + 32, fields->receive);
    put_timestamp(packet + 40, fields->transmit);
}

/* NTP seconds of 2026-11-25T10:00:00Z: Unix seconds + 2208988800. */
#define RECIPE_NTP_SECONDS UINT32_C(4004589600)

/* A healthy stratum-2 reply to test_nonce; T2 = 10:00:00.015, T3 = 10:00:00.016. */
static struct fields good_fields(void)
{
    struct fields fields = {
        .leap = 0,
        .version = 4,
        .mode = 4,
        .stratum = 2,
        .poll = 6,
        .precision = 0xEC, /* -20 */
        .root_delay = 0x00018000,
        .root_dispersion = 0x00000800,
        .reference_id = {192, 0, 2, 1},
        .reference = {RECIPE_NTP_SECONDS - 64, 0},
        .origin = test_nonce,
        /* 0.015 s and 0.016 s as 2^-32 fractions, rounded to nearest. */
        .receive = {RECIPE_NTP_SECONDS, 64424509},
        .transmit = {RECIPE_NTP_SECONDS, 68719477},
    };
    return fields;
}

static void test_recipe_good_reply(void **state)
{
    (void)state;
    struct fields fields = good_fields();
    uint8_t packet[48];
    build_packet(&fields, packet);
    assert_int_equal(packet[0], 0x24);

    struct nd_sntp_reply reply;
    struct nd_error error;
    assert_int_equal(nd_sntp_parse_reply(packet, sizeof packet, &reply, &error), ND_OK);
    assert_int_equal(reply.length, 48);
    assert_int_equal(reply.leap, 0);
    assert_string_equal(reply.leap_text, "no warning");
    assert_int_equal(reply.version, 4);
    assert_int_equal(reply.mode, 4);
    assert_string_equal(reply.mode_text, "server");
    assert_int_equal(reply.stratum, 2);
    assert_string_equal(reply.stratum_text, "secondary server");
    assert_int_equal(reply.poll, 6);
    assert_int_equal(reply.precision, -20);
    assert_true(reply.precision_seconds == 1.0 / 1048576.0);
    assert_int_equal(reply.root_delay_raw, 0x00018000);
    assert_true(reply.root_delay_seconds == 1.5);
    assert_int_equal(reply.root_dispersion_raw, 0x00000800);
    assert_true(reply.root_dispersion_seconds == 0.03125);
    assert_int_equal(reply.reference_id, 0xC0000201u);
    assert_string_equal(reply.reference_text, "192.0.2.1");
    assert_string_equal(reply.kiss_code, "");
    assert_string_equal(reply.kiss_meaning, "");
    assert_int_equal(reply.reference.seconds, RECIPE_NTP_SECONDS - 64);
    assert_int_equal(reply.origin.seconds, test_nonce.seconds);
    assert_int_equal(reply.origin.fraction, test_nonce.fraction);
    assert_int_equal(reply.receive.fraction, 64424509);
    assert_int_equal(reply.transmit.fraction, 68719477);
    assert_int_equal(nd_sntp_timestamp_to_unix_ns(reply.receive),
                     RECIPE_UNIX_SECONDS * NS_PER_SECOND + MS(15));
    assert_int_equal(nd_sntp_timestamp_to_unix_ns(reply.transmit),
                     RECIPE_UNIX_SECONDS * NS_PER_SECOND + MS(16));

    char text[ND_SNTP_ISO8601_SIZE];
    assert_int_equal(nd_sntp_format_iso8601(nd_sntp_timestamp_to_unix_ns(reply.transmit), text,
                                            sizeof text, &error),
                     ND_OK);
    assert_string_equal(text, "2026-11-25T10:00:00.016Z");

    struct nd_sntp_checks checks;
    assert_int_equal(nd_sntp_validate(&reply, &test_nonce, &checks, &error), ND_OK);
    for (int i = 0; i < ND_SNTP_CHECK_COUNT; i++) {
        assert_string_equal(checks.items[i].name, nd_sntp_check_name((enum nd_sntp_check_id)i));
        if (i == ND_SNTP_CHECK_SOURCE_ADDRESS)
            assert_int_equal(checks.items[i].outcome, ND_SNTP_NOT_CHECKED);
        else
            assert_int_equal(checks.items[i].outcome, ND_SNTP_PASSED);
    }
    assert_string_equal(checks.items[ND_SNTP_CHECK_STRATUM].detail, "stratum 2 (secondary server)");

    /* Client sent at 10:00:00.000 and received at 10:00:00.021: 10 ms each
     * way, 1 ms in the server, whose clock is 5 ms ahead. */
    struct timespec t1 = {.tv_sec = RECIPE_UNIX_SECONDS, .tv_nsec = 0};
    struct timespec t4 = {.tv_sec = RECIPE_UNIX_SECONDS, .tv_nsec = 21000000};
    struct nd_sntp_estimate estimate;
    nd_sntp_estimate(&t1, reply.receive, reply.transmit, &t4, &estimate);
    assert_int_equal(estimate.offset_ns, MS(5));
    assert_int_equal(estimate.delay_ns, MS(20));
    assert_true(estimate.offset_seconds > 0.0049999 && estimate.offset_seconds < 0.0050001);
    assert_true(estimate.delay_seconds > 0.0199999 && estimate.delay_seconds < 0.0200001);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(nd_sntp_check_name(ND_SNTP_CHECK_MODE), "mode");
    assert_string_equal(nd_sntp_check_name(ND_SNTP_CHECK_VERSION), "version");
    assert_string_equal(nd_sntp_check_name(ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE),
                        "origin_matches_nonce");
    assert_string_equal(nd_sntp_check_name(ND_SNTP_CHECK_TRANSMIT_NONZERO), "transmit_nonzero");
    assert_string_equal(nd_sntp_check_name(ND_SNTP_CHECK_STRATUM), "stratum");
    assert_string_equal(nd_sntp_check_name(ND_SNTP_CHECK_LEAP), "leap");
    assert_string_equal(nd_sntp_check_name(ND_SNTP_CHECK_SOURCE_ADDRESS), "source_address");
    assert_string_equal(nd_sntp_check_name(ND_SNTP_CHECK_COUNT), "unknown");
    assert_string_equal(nd_sntp_outcome_name(ND_SNTP_NOT_CHECKED), "not_checked");
    assert_string_equal(nd_sntp_outcome_name(ND_SNTP_PASSED), "passed");
    assert_string_equal(nd_sntp_outcome_name(ND_SNTP_FAILED), "failed");
}

struct estimate_case {
    const char *name;
    int64_t t1_ns;
    int64_t t2_ns;
    int64_t t3_ns;
    int64_t t4_ns;
    int64_t offset_ns;
    int64_t delay_ns;
};

#define RECIPE_NS (RECIPE_UNIX_SECONDS * NS_PER_SECOND)
/* 2036-02-07T06:28:16Z, where NTP era 1 begins. */
#define ERA_1_NS (INT64_C(2085978496) * NS_PER_SECOND)

static void test_estimate_table(void **state)
{
    (void)state;
    static const struct estimate_case cases[] = {
        {"recipe: server 5 ms ahead, 20 ms round trip", RECIPE_NS, RECIPE_NS + MS(15),
         RECIPE_NS + MS(16), RECIPE_NS + MS(21), MS(5), MS(20)},
        {"server 2.5 s behind", RECIPE_NS, RECIPE_NS - MS(2490), RECIPE_NS - MS(2489),
         RECIPE_NS + MS(21), -MS(2500), MS(20)},
        /* Doubles of Unix seconds hold about 0.2 us today; the integer path
         * must keep single nanoseconds. */
        {"nanosecond precision", RECIPE_NS + 1, RECIPE_NS + 1001, RECIPE_NS + 1002,
         RECIPE_NS + 1005, 498, 1003},
        {"server a day ahead", RECIPE_NS, RECIPE_NS + 86400 * NS_PER_SECOND + MS(10),
         RECIPE_NS + 86400 * NS_PER_SECOND + MS(11), RECIPE_NS + MS(21), 86400 * NS_PER_SECOND,
         MS(20)},
        /* The client still in era 0, the server already in era 1 (its
         * timestamps have seconds 0): modular differences bridge the gap. */
        {"across the 2036 era boundary", ERA_1_NS - MS(20), ERA_1_NS + MS(5), ERA_1_NS + MS(6),
         ERA_1_NS - MS(9), MS(20), MS(10)},
        {"negative delay from a coarse server clock", RECIPE_NS, RECIPE_NS + MS(3),
         RECIPE_NS + MS(8), RECIPE_NS + MS(4), 3500000, -MS(1)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct estimate_case *c = &cases[i];
        print_message("case: %s\n", c->name);
        struct timespec t1 = {.tv_sec = (time_t)(c->t1_ns / NS_PER_SECOND),
                              .tv_nsec = (long)(c->t1_ns % NS_PER_SECOND)};
        struct timespec t4 = {.tv_sec = (time_t)(c->t4_ns / NS_PER_SECOND),
                              .tv_nsec = (long)(c->t4_ns % NS_PER_SECOND)};
        struct nd_sntp_estimate estimate;
        nd_sntp_estimate(&t1, nd_sntp_timestamp_from_unix_ns(c->t2_ns),
                         nd_sntp_timestamp_from_unix_ns(c->t3_ns), &t4, &estimate);
        assert_int_equal(estimate.offset_ns, c->offset_ns);
        assert_int_equal(estimate.delay_ns, c->delay_ns);
        assert_true(estimate.offset_seconds == (double)c->offset_ns / 1e9);
        assert_true(estimate.delay_seconds == (double)c->delay_ns / 1e9);
    }
    /* The era case really does put the server's stamps in era 1. */
    assert_int_equal(nd_sntp_timestamp_from_unix_ns(ERA_1_NS + MS(5)).seconds, 0);
}

struct failure_case {
    const char *name;
    void (*spoil)(struct fields *fields);
    enum nd_sntp_check_id failed;
    const char *detail;
    const char *kiss_code;
};

static void wrong_mode_broadcast(struct fields *fields)
{
    fields->mode = 5;
}

static void wrong_mode_client(struct fields *fields)
{
    fields->mode = 3;
}

static void origin_mismatch(struct fields *fields)
{
    fields->origin.fraction ^= 1;
}

static void origin_zero(struct fields *fields)
{
    fields->origin.seconds = 0;
    fields->origin.fraction = 0;
}

static void transmit_zero(struct fields *fields)
{
    fields->transmit.seconds = 0;
    fields->transmit.fraction = 0;
}

static void stratum_16(struct fields *fields)
{
    fields->stratum = 16;
}

static void leap_3(struct fields *fields)
{
    fields->leap = 3;
}

static void kiss_rate(struct fields *fields)
{
    fields->stratum = 0;
    memcpy(fields->reference_id, "RATE", 4);
}

static void kiss_deny(struct fields *fields)
{
    fields->stratum = 0;
    memcpy(fields->reference_id, "DENY", 4);
}

static void kiss_rstr(struct fields *fields)
{
    fields->stratum = 0;
    memcpy(fields->reference_id, "RSTR", 4);
}

static void version_2(struct fields *fields)
{
    fields->version = 2;
}

static void test_failed_checks_table(void **state)
{
    (void)state;
    static const struct failure_case cases[] = {
        {"mode 5 (broadcast)", wrong_mode_broadcast, ND_SNTP_CHECK_MODE,
         "mode 5 (broadcast) is not a reply to our request", ""},
        {"mode 3 (our own request reflected)", wrong_mode_client, ND_SNTP_CHECK_MODE,
         "mode 3 (client), expected 4 (server)", ""},
        {"origin differs from the nonce", origin_mismatch, ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE,
         "origin 0x1234abcd.5678ef00 is not the nonce 0x1234abcd.5678ef01 we sent", ""},
        {"origin zero", origin_zero, ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE,
         "origin is zero: the server did not echo our transmit timestamp", ""},
        {"transmit zero", transmit_zero, ND_SNTP_CHECK_TRANSMIT_NONZERO,
         "transmit timestamp is zero", ""},
        {"stratum 16", stratum_16, ND_SNTP_CHECK_STRATUM,
         "stratum 16 (unsynchronized), expected 1 to 15", ""},
        {"leap 3", leap_3, ND_SNTP_CHECK_LEAP, "leap 3: alarm condition (clock not synchronized)",
         ""},
        {"kiss-o'-death RATE", kiss_rate, ND_SNTP_CHECK_STRATUM,
         "kiss-o'-death RATE: rate exceeded; the server has temporarily denied access because "
         "the client exceeded the rate threshold (poll this server less often)",
         "RATE"},
        {"kiss-o'-death DENY", kiss_deny, ND_SNTP_CHECK_STRATUM,
         "kiss-o'-death DENY: access denied by remote server (stop sending requests to this "
         "server)",
         "DENY"},
        {"kiss-o'-death RSTR", kiss_rstr, ND_SNTP_CHECK_STRATUM,
         "kiss-o'-death RSTR: access denied due to local policy (stop sending requests to "
         "this server)",
         "RSTR"},
        {"version 2", version_2, ND_SNTP_CHECK_VERSION, "version 2, expected 3 or 4", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct failure_case *c = &cases[i];
        print_message("case: %s\n", c->name);
        struct fields fields = good_fields();
        c->spoil(&fields);
        uint8_t packet[48];
        build_packet(&fields, packet);
        struct nd_sntp_reply reply;
        struct nd_error error;
        assert_int_equal(nd_sntp_parse_reply(packet, sizeof packet, &reply, &error), ND_OK);
        assert_string_equal(reply.kiss_code, c->kiss_code);

        struct nd_sntp_checks checks;
        nd_error_clear(&error);
        assert_int_equal(nd_sntp_validate(&reply, &test_nonce, &checks, &error), ND_ERR_PROTOCOL);
        assert_int_equal(error.code, ND_ERR_PROTOCOL);
        assert_non_null(strstr(error.message, nd_sntp_check_name(c->failed)));
        for (int check = 0; check < ND_SNTP_CHECK_SOURCE_ADDRESS; check++) {
            enum nd_sntp_outcome expected =
                check == (int)c->failed ? ND_SNTP_FAILED : ND_SNTP_PASSED;
            assert_int_equal(checks.items[check].outcome, expected);
        }
        assert_int_equal(checks.items[ND_SNTP_CHECK_SOURCE_ADDRESS].outcome, ND_SNTP_NOT_CHECKED);
        assert_string_equal(checks.items[c->failed].detail, c->detail);
    }
}

static void test_kiss_meaning(void **state)
{
    (void)state;
    struct fields fields = good_fields();
    kiss_rate(&fields);
    uint8_t packet[48];
    build_packet(&fields, packet);
    struct nd_sntp_reply reply;
    assert_int_equal(nd_sntp_parse_reply(packet, sizeof packet, &reply, NULL), ND_OK);
    assert_string_equal(reply.stratum_text, "unspecified or invalid (kiss-o'-death)");
    assert_string_equal(reply.reference_text, "RATE");
    assert_string_equal(reply.kiss_meaning, "rate exceeded; the server has temporarily denied "
                                            "access because the client exceeded the rate "
                                            "threshold");
    memcpy(fields.reference_id, "ABCD", 4);
    build_packet(&fields, packet);
    assert_int_equal(nd_sntp_parse_reply(packet, sizeof packet, &reply, NULL), ND_OK);
    assert_string_equal(reply.kiss_code, "ABCD");
    assert_string_equal(reply.kiss_meaning, "unknown kiss code");
}

struct reference_case {
    unsigned stratum;
    uint8_t bytes[4];
    const char *text;
};

static void test_reference_text_table(void **state)
{
    (void)state;
    static const struct reference_case cases[] = {
        {1, {'G', 'P', 'S', 0}, "GPS"},         {1, {'L', 'O', 'C', 'L'}, "LOCL"},
        {1, {'P', 'P', 'S', 0}, "PPS"},         {1, {0, 0, 0, 0}, ""},
        {1, {'G', 0x01, 'S', 0}, "0x47015300"}, {0, {'D', 'E', 'N', 'Y'}, "DENY"},
        {2, {192, 0, 2, 1}, "192.0.2.1"},       {15, {'G', 'P', 'S', 0}, "71.80.83.0"},
        {16, {0, 0, 0, 0}, "0.0.0.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fields fields = good_fields();
        fields.stratum = cases[i].stratum;
        memcpy(fields.reference_id, cases[i].bytes, 4);
        uint8_t packet[48];
        build_packet(&fields, packet);
        struct nd_sntp_reply reply;
        assert_int_equal(nd_sntp_parse_reply(packet, sizeof packet, &reply, NULL), ND_OK);
        assert_string_equal(reply.reference_text, cases[i].text);
    }
}

static void test_header_field_edges(void **state)
{
    (void)state;
    struct fields fields = good_fields();
    fields.leap = 1;
    fields.version = 3;
    fields.poll = 17;
    fields.precision = 0x06; /* a very coarse clock: 64 s */
    fields.root_delay = 0xFFFFFFFFu;
    fields.root_dispersion = 0x00000001;
    uint8_t packet[48];
    build_packet(&fields, packet);
    struct nd_sntp_reply reply;
    assert_int_equal(nd_sntp_parse_reply(packet, sizeof packet, &reply, NULL), ND_OK);
    assert_int_equal(reply.leap, 1);
    assert_string_equal(reply.leap_text, "last minute has 61 seconds");
    assert_int_equal(reply.version, 3);
    assert_int_equal(reply.poll, 17);
    assert_int_equal(reply.precision, 6);
    assert_true(reply.precision_seconds == 64.0);
    assert_true(reply.root_delay_seconds == 65535.0 + 65535.0 / 65536.0);
    assert_true(reply.root_dispersion_seconds == 1.0 / 65536.0);

    fields.leap = 2;
    fields.poll = 0xFA;      /* -6 */
    fields.precision = 0x80; /* -128 */
    build_packet(&fields, packet);
    assert_int_equal(nd_sntp_parse_reply(packet, sizeof packet, &reply, NULL), ND_OK);
    assert_string_equal(reply.leap_text, "last minute has 59 seconds");
    assert_int_equal(reply.poll, -6);
    assert_int_equal(reply.precision, -128);
    assert_true(reply.precision_seconds > 0.0 && reply.precision_seconds < 1e-38);

    struct nd_sntp_checks checks;
    assert_int_equal(nd_sntp_validate(&reply, &test_nonce, &checks, NULL), ND_OK);
    assert_string_equal(checks.items[ND_SNTP_CHECK_VERSION].detail,
                        "version 3 (3 and 4 are accepted)");
}

struct era_case {
    struct nd_sntp_timestamp timestamp;
    int64_t unix_seconds;
    const char *iso;
};

static void test_era_table(void **state)
{
    (void)state;
    static const struct era_case cases[] = {
        /* RFC 4330 section 3: seconds with the top bit clear are in era 1. */
        {{0x00000000u, 0}, INT64_C(2085978496), "2036-02-07T06:28:16.000Z"},
        {{0x00000001u, 0x80000000u}, INT64_C(2085978497), "2036-02-07T06:28:17.500Z"},
        {{0x7FFFFFFFu, 0}, INT64_C(4233462143), "2104-02-26T09:42:23.000Z"},
        {{0xE0000000u, 0}, INT64_C(1549107584), "2019-02-02T11:39:44.000Z"},
        {{0x83AA7E80u, 0}, 0, "1970-01-01T00:00:00.000Z"},
        {{0x80000000u, 0}, INT64_C(-61505152), "1968-01-20T03:14:08.000Z"},
        {{0xFFFFFFFFu, 0}, INT64_C(2085978495), "2036-02-07T06:28:15.000Z"},
        {{RECIPE_NTP_SECONDS, 0x1F7CED91u}, RECIPE_UNIX_SECONDS, "2026-11-25T10:00:00.123Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct era_case *c = &cases[i];
        print_message("case: %s\n", c->iso);
        int64_t unix_ns = nd_sntp_timestamp_to_unix_ns(c->timestamp);
        assert_int_equal(unix_ns / NS_PER_SECOND, c->unix_seconds);
        char text[ND_SNTP_ISO8601_SIZE];
        assert_int_equal(nd_sntp_format_iso8601(unix_ns, text, sizeof text, NULL), ND_OK);
        assert_string_equal(text, c->iso);
        struct timespec time = nd_sntp_timestamp_to_timespec(c->timestamp);
        assert_int_equal((int64_t)time.tv_sec, c->unix_seconds);
        /* And back: the era is dropped on the wire, the seconds come back. */
        struct nd_sntp_timestamp back = nd_sntp_timestamp_from_unix_ns(unix_ns);
        assert_int_equal(back.seconds, c->timestamp.seconds);
        assert_int_equal(back.fraction, c->timestamp.fraction);
        back = nd_sntp_timestamp_from_timespec(&time);
        assert_int_equal(back.seconds, c->timestamp.seconds);
        assert_int_equal(back.fraction, c->timestamp.fraction);
    }
    double seconds = nd_sntp_timestamp_to_unix_seconds((struct nd_sntp_timestamp){0, 0x40000000u});
    assert_true(seconds == 2085978496.25);
}

static void test_nanosecond_round_trip(void **state)
{
    (void)state;
    static const int64_t values[] = {
        0,
        1,
        999999999,
        RECIPE_NS + 123456789,
        RECIPE_NS + 999999999,
        ERA_1_NS - 1,
        ERA_1_NS,
        ERA_1_NS + 1,
        -1,
        -NS_PER_SECOND + 1,
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct nd_sntp_timestamp timestamp = nd_sntp_timestamp_from_unix_ns(values[i]);
        assert_int_equal(nd_sntp_timestamp_to_unix_ns(timestamp), values[i]);
        struct timespec time = nd_sntp_timestamp_to_timespec(timestamp);
        assert_int_equal((int64_t)time.tv_sec * NS_PER_SECOND + time.tv_nsec, values[i]);
        assert_true(time.tv_nsec >= 0 && time.tv_nsec < NS_PER_SECOND);
    }
    uint8_t wire[8];
    nd_sntp_timestamp_encode((struct nd_sntp_timestamp){0x01020304u, 0xA0B0C0D0u}, wire);
    const uint8_t expected[8] = {0x01, 0x02, 0x03, 0x04, 0xA0, 0xB0, 0xC0, 0xD0};
    assert_memory_equal(wire, expected, 8);
    struct nd_sntp_timestamp decoded = nd_sntp_timestamp_decode(expected);
    assert_int_equal(decoded.seconds, 0x01020304u);
    assert_int_equal(decoded.fraction, 0xA0B0C0D0u);
}

struct iso_case {
    int64_t unix_ns;
    const char *text;
};

static void test_iso8601_table(void **state)
{
    (void)state;
    static const struct iso_case cases[] = {
        {RECIPE_NS + MS(123), "2026-11-25T10:00:00.123Z"},
        {RECIPE_NS + 999999999, "2026-11-25T10:00:00.999Z"},
        {0, "1970-01-01T00:00:00.000Z"},
        {-MS(500), "1969-12-31T23:59:59.500Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {INT64_C(951782400) * NS_PER_SECOND, "2000-02-29T00:00:00.000Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[ND_SNTP_ISO8601_SIZE];
        assert_int_equal(nd_sntp_format_iso8601(cases[i].unix_ns, text, sizeof text, NULL), ND_OK);
        assert_string_equal(text, cases[i].text);
    }

    char exact[25];
    assert_int_equal(nd_sntp_format_iso8601(RECIPE_NS, exact, sizeof exact, NULL), ND_OK);
    assert_string_equal(exact, "2026-11-25T10:00:00.000Z");
    char small[24];
    struct nd_error error;
    assert_int_equal(nd_sntp_format_iso8601(RECIPE_NS, small, sizeof small, &error), ND_ERR_RANGE);
    assert_string_equal(small, "");
    assert_string_equal(error.message, "buffer of 24 bytes is too small for a 24-character time");
}

static void test_truncated_replies(void **state)
{
    (void)state;
    struct fields fields = good_fields();
    uint8_t packet[68];
    build_packet(&fields, packet);
    memset(packet + 48, 0xAB, 20);
    static const size_t short_lengths[] = {0, 1, 20, 47};
    for (size_t i = 0; i < sizeof short_lengths / sizeof short_lengths[0]; i++) {
        struct nd_sntp_reply reply;
        struct nd_error error;
        assert_int_equal(nd_sntp_parse_reply(packet, short_lengths[i], &reply, &error),
                         ND_ERR_PROTOCOL);
        char expected[64];
        snprintf(expected, sizeof expected, "reply is %zu bytes, an NTP header is 48",
                 short_lengths[i]);
        assert_string_equal(error.message, expected);
    }
    /* Extension fields and a MAC may follow the header; they change nothing. */
    struct nd_sntp_reply reply;
    assert_int_equal(nd_sntp_parse_reply(packet, sizeof packet, &reply, NULL), ND_OK);
    assert_int_equal(reply.length, 68);
    assert_int_equal(reply.stratum, 2);
    assert_int_equal(reply.transmit.fraction, 68719477);
    assert_int_equal(nd_sntp_validate(&reply, &test_nonce, &(struct nd_sntp_checks){0}, NULL),
                     ND_OK);
}

static void test_request_builder(void **state)
{
    (void)state;
    uint8_t packet[48];
    uint8_t previous[48];
    struct nd_sntp_timestamp nonce;
    struct nd_sntp_timestamp previous_nonce = {0, 0};
    static const unsigned versions[] = {4, 3, 4};
    static const uint8_t first_bytes[] = {0x23, 0x1b, 0x23};
    for (size_t i = 0; i < 3; i++) {
        memset(packet, 0xFF, sizeof packet);
        assert_int_equal(nd_sntp_build_request(packet, versions[i], &nonce, NULL), ND_OK);
        assert_int_equal(packet[0], first_bytes[i]);
        for (size_t byte = 1; byte < 40; byte++)
            assert_int_equal(packet[byte], 0);
        uint8_t wire[8];
        put_timestamp(wire, nonce);
        assert_memory_equal(packet + 40, wire, 8);
        assert_false(nonce.seconds == 0 && nonce.fraction == 0);
        if (i > 0) {
            assert_false(nonce.seconds == previous_nonce.seconds &&
                         nonce.fraction == previous_nonce.fraction);
            assert_memory_not_equal(packet + 40, previous + 40, 8);
        }
        previous_nonce = nonce;
        memcpy(previous, packet, sizeof packet);
    }

    struct nd_error error;
    static const unsigned bad_versions[] = {0, 1, 2, 5, 8};
    for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++)
        assert_int_equal(nd_sntp_build_request(packet, bad_versions[i], &nonce, &error),
                         ND_ERR_INVALID);
    assert_string_equal(error.message, "NTP version 8 is not supported; use 3 or 4");
}

static struct sockaddr_in ipv4(const char *address, uint16_t port)
{
    struct sockaddr_in out;
    memset(&out, 0, sizeof out);
    out.sin_family = AF_INET;
    out.sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, address, &out.sin_addr), 1);
    return out;
}

static struct sockaddr_in6 ipv6(const char *address, uint16_t port, uint32_t scope)
{
    struct sockaddr_in6 out;
    memset(&out, 0, sizeof out);
    out.sin6_family = AF_INET6;
    out.sin6_port = htons(port);
    out.sin6_scope_id = scope;
    assert_int_equal(inet_pton(AF_INET6, address, &out.sin6_addr), 1);
    return out;
}

static void test_same_endpoint(void **state)
{
    (void)state;
    struct sockaddr_in a = ipv4("192.0.2.1", 123);
    struct sockaddr_in same = ipv4("192.0.2.1", 123);
    struct sockaddr_in other_port = ipv4("192.0.2.1", 124);
    struct sockaddr_in other_host = ipv4("192.0.2.2", 123);
    struct sockaddr_in6 v6 = ipv6("2001:db8::1", 123, 0);
    struct sockaddr_in6 v6_same = ipv6("2001:db8::1", 123, 0);
    struct sockaddr_in6 v6_port = ipv6("2001:db8::1", 5123, 0);
    struct sockaddr_in6 link = ipv6("fe80::1", 123, 2);
    struct sockaddr_in6 link_other = ipv6("fe80::1", 123, 3);
    const struct sockaddr *sa = (const struct sockaddr *)&a;
    assert_true(nd_sntp_same_endpoint(sa, sizeof a, (struct sockaddr *)&same, sizeof same));
    assert_false(
        nd_sntp_same_endpoint(sa, sizeof a, (struct sockaddr *)&other_port, sizeof other_port));
    assert_false(
        nd_sntp_same_endpoint(sa, sizeof a, (struct sockaddr *)&other_host, sizeof other_host));
    assert_false(nd_sntp_same_endpoint(sa, sizeof a, (struct sockaddr *)&v6, sizeof v6));
    assert_false(nd_sntp_same_endpoint(sa, 4, (struct sockaddr *)&same, sizeof same));
    assert_false(nd_sntp_same_endpoint(NULL, 0, (struct sockaddr *)&same, sizeof same));
    assert_true(nd_sntp_same_endpoint((struct sockaddr *)&v6, sizeof v6,
                                      (struct sockaddr *)&v6_same, sizeof v6_same));
    assert_false(nd_sntp_same_endpoint((struct sockaddr *)&v6, sizeof v6,
                                       (struct sockaddr *)&v6_port, sizeof v6_port));
    assert_false(nd_sntp_same_endpoint((struct sockaddr *)&link, sizeof link,
                                       (struct sockaddr *)&link_other, sizeof link_other));

    struct nd_sntp_checks checks;
    struct nd_error error;
    struct nd_sntp_reply reply;
    struct fields fields = good_fields();
    uint8_t packet[48];
    build_packet(&fields, packet);
    assert_int_equal(nd_sntp_parse_reply(packet, sizeof packet, &reply, NULL), ND_OK);
    assert_int_equal(nd_sntp_validate(&reply, &test_nonce, &checks, NULL), ND_OK);
    assert_int_equal(
        nd_sntp_check_source(&checks, sa, sizeof a, (struct sockaddr *)&same, sizeof same, &error),
        ND_OK);
    assert_int_equal(checks.items[ND_SNTP_CHECK_SOURCE_ADDRESS].outcome, ND_SNTP_PASSED);
    assert_string_equal(checks.items[ND_SNTP_CHECK_SOURCE_ADDRESS].detail,
                        "reply came from 192.0.2.1:123, where the request went");
    assert_int_equal(nd_sntp_check_source(&checks, sa, sizeof a, (struct sockaddr *)&v6_port,
                                          sizeof v6_port, &error),
                     ND_ERR_PROTOCOL);
    assert_int_equal(checks.items[ND_SNTP_CHECK_SOURCE_ADDRESS].outcome, ND_SNTP_FAILED);
    assert_string_equal(checks.items[ND_SNTP_CHECK_SOURCE_ADDRESS].detail,
                        "reply came from [2001:db8::1]:5123, but the request went to "
                        "192.0.2.1:123");
    assert_string_equal(error.message, "reply failed the source_address check: reply came from "
                                       "[2001:db8::1]:5123, but the request went to 192.0.2.1:123");
}

/* A one-shot NTP responder on 127.0.0.1 in a thread. It records problems
 * instead of asserting, because cmocka's asserts are not thread-safe. */
enum behaviour {
    ANSWER_GOOD,
    ANSWER_BAD_ORIGIN,
    ANSWER_BAD_ORIGIN_THEN_GOOD, /* a stale datagram first, then the real reply */
    ANSWER_SHORT,
};

struct responder {
    int socket_fd;
    struct sockaddr_in address;
    enum behaviour behaviour;
    pthread_t thread;
    int answered;
    int problem; /* errno of a failed call, or -1 for a timeout */
};

static void *responder_main(void *argument)
{
    struct responder *responder = argument;
    struct pollfd waiting = {.fd = responder->socket_fd, .events = POLLIN};
    int ready = poll(&waiting, 1, 5000);
    if (ready <= 0) {
        responder->problem = ready < 0 ? errno : -1;
        return NULL;
    }
    uint8_t request[512];
    struct sockaddr_storage peer;
    socklen_t peer_length = sizeof peer;
    ssize_t length = recvfrom(responder->socket_fd, request, sizeof request, 0,
                              (struct sockaddr *)&peer, &peer_length);
    struct timespec now;
    if (length < 48 || clock_gettime(CLOCK_REALTIME, &now) != 0) {
        responder->problem = length < 0 ? errno : EPROTO;
        return NULL;
    }
    struct nd_sntp_timestamp received = nd_sntp_timestamp_from_timespec(&now);
    struct fields fields = good_fields();
    fields.version = (request[0] >> 3) & 7;
    fields.reference_id[0] = 127;
    fields.reference_id[3] = 1;
    fields.origin.seconds = (uint32_t)request[40] << 24 | (uint32_t)request[41] << 16 |
                            (uint32_t)request[42] << 8 | request[43];
    fields.origin.fraction = (uint32_t)request[44] << 24 | (uint32_t)request[45] << 16 |
                             (uint32_t)request[46] << 8 | request[47];
    bool bad_origin_first = responder->behaviour == ANSWER_BAD_ORIGIN_THEN_GOOD;
    if (responder->behaviour == ANSWER_BAD_ORIGIN || bad_origin_first)
        fields.origin.seconds ^= 0x80000000u;
    fields.receive = received;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
        responder->problem = errno;
        return NULL;
    }
    fields.transmit = nd_sntp_timestamp_from_timespec(&now);
    uint8_t reply[48];
    build_packet(&fields, reply);
    size_t reply_length = responder->behaviour == ANSWER_SHORT ? 20 : sizeof reply;
    if (sendto(responder->socket_fd, reply, reply_length, 0, (struct sockaddr *)&peer,
               peer_length) != (ssize_t)reply_length) {
        responder->problem = errno;
        return NULL;
    }
    if (bad_origin_first) {
        fields.origin.seconds ^= 0x80000000u;
        build_packet(&fields, reply);
        if (sendto(responder->socket_fd, reply, sizeof reply, 0, (struct sockaddr *)&peer,
                   peer_length) != (ssize_t)sizeof reply) {
            responder->problem = errno;
            return NULL;
        }
    }
    responder->answered = 1;
    return NULL;
}

static void bind_loopback(struct responder *responder)
{
    memset(responder, 0, sizeof *responder);
    responder->socket_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(responder->socket_fd >= 0);
    responder->address = ipv4("127.0.0.1", 0);
    assert_int_equal(bind(responder->socket_fd, (struct sockaddr *)&responder->address,
                          sizeof responder->address),
                     0);
    socklen_t length = sizeof responder->address;
    assert_int_equal(
        getsockname(responder->socket_fd, (struct sockaddr *)&responder->address, &length), 0);
    assert_int_not_equal(responder->address.sin_port, 0);
}

static void start_responder(struct responder *responder, enum behaviour behaviour)
{
    bind_loopback(responder);
    responder->behaviour = behaviour;
    assert_int_equal(pthread_create(&responder->thread, NULL, responder_main, responder), 0);
}

static void stop_responder(struct responder *responder)
{
    assert_int_equal(pthread_join(responder->thread, NULL), 0);
    assert_int_equal(close(responder->socket_fd), 0);
    assert_int_equal(responder->problem, 0);
    assert_int_equal(responder->answered, 1);
}

static void test_query_loopback(void **state)
{
    (void)state;
    static const unsigned versions[] = {4, 3};
    for (size_t i = 0; i < 2; i++) {
        struct responder responder;
        start_responder(&responder, ANSWER_GOOD);
        struct nd_sntp_result result;
        struct nd_error error;
        nd_error_clear(&error);
        enum nd_err code =
            nd_sntp_query((struct sockaddr *)&responder.address, sizeof responder.address,
                          versions[i], 2000, &result, &error);
        stop_responder(&responder);
        if (code != ND_OK)
            print_error("query failed: %s\n", error.message);
        assert_int_equal(code, ND_OK);
        assert_true(result.received);
        assert_true(result.parsed);
        assert_true(result.valid);
        assert_int_equal(result.reply.version, versions[i]);
        assert_string_equal(result.reply.reference_text, "127.0.2.1");
        assert_int_equal(result.reply.origin.seconds, result.nonce.seconds);
        assert_int_equal(result.reply.origin.fraction, result.nonce.fraction);
        for (int check = 0; check < ND_SNTP_CHECK_COUNT; check++)
            assert_int_equal(result.checks.items[check].outcome, ND_SNTP_PASSED);
        assert_true(nd_sntp_same_endpoint((struct sockaddr *)&result.peer, result.peer_length,
                                          (struct sockaddr *)&responder.address,
                                          sizeof responder.address));
        /* Same host, same clock: the offset is only scheduling noise, the
         * delay a loopback round trip. */
        assert_true(result.estimate.offset_ns > -MS(500) && result.estimate.offset_ns < MS(500));
        assert_true(result.estimate.delay_ns >= 0 && result.estimate.delay_ns < MS(1000));
        int64_t sent = (int64_t)result.send_time.tv_sec * NS_PER_SECOND + result.send_time.tv_nsec;
        int64_t received =
            (int64_t)result.receive_time.tv_sec * NS_PER_SECOND + result.receive_time.tv_nsec;
        assert_true(received >= sent);
    }
}

/* RFC 5905 section 8: a reply whose origin is not our nonce is bogus and is
 * dropped; the query goes on waiting for the real one, and times out when
 * none comes. */
static void test_query_bad_origin(void **state)
{
    (void)state;
    struct responder responder;
    start_responder(&responder, ANSWER_BAD_ORIGIN);
    struct nd_sntp_result result;
    struct nd_error error;
    enum nd_err code = nd_sntp_query((struct sockaddr *)&responder.address,
                                     sizeof responder.address, 4, 300, &result, &error);
    stop_responder(&responder);
    assert_int_equal(code, ND_ERR_TIMEOUT);
    assert_false(result.received);
    assert_false(result.valid);
    assert_int_equal(result.discarded, 1);
    assert_non_null(strstr(result.discarded_reason, "is not the nonce"));

    start_responder(&responder, ANSWER_BAD_ORIGIN_THEN_GOOD);
    code = nd_sntp_query((struct sockaddr *)&responder.address, sizeof responder.address, 4, 2000,
                         &result, &error);
    stop_responder(&responder);
    assert_int_equal(code, ND_OK);
    assert_true(result.valid);
    assert_int_equal(result.discarded, 1);
    assert_int_equal(result.checks.items[ND_SNTP_CHECK_ORIGIN_MATCHES_NONCE].outcome,
                     ND_SNTP_PASSED);
}

static void test_query_short_reply(void **state)
{
    (void)state;
    struct responder responder;
    start_responder(&responder, ANSWER_SHORT);
    struct nd_sntp_result result;
    struct nd_error error;
    enum nd_err code = nd_sntp_query((struct sockaddr *)&responder.address,
                                     sizeof responder.address, 4, 2000, &result, &error);
    stop_responder(&responder);
    assert_int_equal(code, ND_ERR_PROTOCOL);
    assert_true(result.received);
    assert_false(result.parsed);
    assert_string_equal(error.message, "reply is 20 bytes, an NTP header is 48");
}

static int64_t monotonic_ns(void)
{
    struct timespec now;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &now), 0);
    return (int64_t)now.tv_sec * NS_PER_SECOND + now.tv_nsec;
}

static void test_query_timeout(void **state)
{
    (void)state;
    struct responder silent;
    bind_loopback(&silent);
    struct nd_sntp_result result;
    struct nd_error error;
    int64_t start = monotonic_ns();
    enum nd_err code = nd_sntp_query((struct sockaddr *)&silent.address, sizeof silent.address, 4,
                                     100, &result, &error);
    int64_t elapsed = monotonic_ns() - start;
    assert_int_equal(code, ND_ERR_TIMEOUT);
    assert_false(result.received);
    assert_true(elapsed >= MS(100));
    assert_true(elapsed < MS(2000));
    char expected[80];
    snprintf(expected, sizeof expected, "no reply from 127.0.0.1:%u within 100 ms",
             (unsigned)ntohs(silent.address.sin_port));
    assert_string_equal(error.message, expected);

    /* The request did reach the silent socket. */
    uint8_t request[64];
    ssize_t length = recv(silent.socket_fd, request, sizeof request, MSG_DONTWAIT);
    assert_int_equal(length, 48);
    assert_int_equal(request[0], 0x23);
    assert_int_equal(close(silent.socket_fd), 0);
}

static void test_query_refused(void **state)
{
    (void)state;
    /* Learn a free port, then free it: the kernel answers our request with
     * ICMP port unreachable, which the connected socket reports. */
    struct responder closed;
    bind_loopback(&closed);
    assert_int_equal(close(closed.socket_fd), 0);
    struct nd_sntp_result result;
    struct nd_error error;
    enum nd_err code = nd_sntp_query((struct sockaddr *)&closed.address, sizeof closed.address, 4,
                                     2000, &result, &error);
    assert_int_equal(code, ND_ERR_SYSTEM);
    assert_int_equal(error.os_error, ECONNREFUSED);
    assert_false(result.received);
}

static void test_query_invalid_arguments(void **state)
{
    (void)state;
    struct sockaddr_in server = ipv4("127.0.0.1", ND_SNTP_PORT);
    struct nd_sntp_result result;
    struct nd_error error;
    assert_int_equal(
        nd_sntp_query((struct sockaddr *)&server, sizeof server, 5, 100, &result, &error),
        ND_ERR_INVALID);
    assert_int_equal(
        nd_sntp_query((struct sockaddr *)&server, sizeof server, 4, 0, &result, &error),
        ND_ERR_RANGE);
    assert_string_equal(error.message, "timeout 0 ms is not positive");
    assert_int_equal(nd_sntp_query((struct sockaddr *)&server, 4, 4, 100, &result, &error),
                     ND_ERR_INVALID);
    struct sockaddr unix_family = {.sa_family = AF_UNIX};
    assert_int_equal(nd_sntp_query(&unix_family, sizeof unix_family, 4, 100, &result, &error),
                     ND_ERR_INVALID);
    int socket_fd = 7;
    assert_int_equal(nd_sntp_open(NULL, 0, &socket_fd, &error), ND_ERR_INVALID);
    assert_int_equal(socket_fd, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_good_reply),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_estimate_table),
        cmocka_unit_test(test_failed_checks_table),
        cmocka_unit_test(test_kiss_meaning),
        cmocka_unit_test(test_reference_text_table),
        cmocka_unit_test(test_header_field_edges),
        cmocka_unit_test(test_era_table),
        cmocka_unit_test(test_nanosecond_round_trip),
        cmocka_unit_test(test_iso8601_table),
        cmocka_unit_test(test_truncated_replies),
        cmocka_unit_test(test_request_builder),
        cmocka_unit_test(test_same_endpoint),
        cmocka_unit_test(test_query_loopback),
        cmocka_unit_test(test_query_bad_origin),
        cmocka_unit_test(test_query_short_reply),
        cmocka_unit_test(test_query_timeout),
        cmocka_unit_test(test_query_refused),
        cmocka_unit_test(test_query_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
