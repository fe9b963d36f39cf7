/* src/core/dns.c: record types and response codes by name, the names asked
 * for (PTR of an address), queries as dig sends them, replies classified and
 * parsed into presentation text and fields, resolv.conf. Replies are built
 * with ldns from presentation text, so the parser is checked against the
 * library's own writer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "netdiag/dns.h"

static void test_types(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint16_t type;
    } good[] = {
        {"A", 1},         {"aaaa", 28},         {"MX", 15},     {"TXT", 16},  {"SRV", 33},
        {"NS", 2},        {"SOA", 6},           {"PTR", 12},    {"CNAME", 5}, {"CAA", 257},
        {"HTTPS", 65},    {"svcb", 64},         {"TLSA", 52},   {"DS", 43},   {"1", 1},
        {"65535", 65535}, {"TYPE65280", 65280}, {"type99", 99},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint16_t type = 0;
        struct nd_error error;
        if (nd_dns_parse_type(good[i].text, &type, &error) != ND_OK)
            fail_msg("%s: %s", good[i].text, error.message);
        assert_int_equal(type, good[i].type);
    }
    static const char *const bad[] = {"",      "0",   "65536", "ANY",   "255",  "AXFR",
                                      "IXFR",  "OPT", "TSIG",  "MAILB", "NOPE", "TYPE",
                                      "TYPEx", "1x",  "-1",    "TYPE0", "A A"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint16_t type = 0;
        struct nd_error error;
        if (nd_dns_parse_type(bad[i], &type, &error) != ND_ERR_INVALID)
            fail_msg("'%s' was accepted as type %u", bad[i], type);
    }
    struct nd_error error;
    uint16_t type;
    nd_dns_parse_type("ANY", &type, &error);
    assert_non_null(strstr(error.message, "amplification"));

    char text[ND_DNS_TYPE_NAME_MAX];
    assert_string_equal(nd_dns_type_name(65, text, sizeof text), "HTTPS");
    assert_string_equal(nd_dns_type_name(257, text, sizeof text), "CAA");
    assert_string_equal(nd_dns_type_name(65280, text, sizeof text), "TYPE65280");
}

static void test_rcode_names(void **state)
{
    (void)state;
    static const struct {
        unsigned rcode;
        const char *name;
    } cases[] = {{0, "NOERROR"},    {1, "FORMERR"},  {2, "SERVFAIL"},    {3, "NXDOMAIN"},
                 {4, "NOTIMP"},     {5, "REFUSED"},  {9, "NOTAUTH"},     {16, "BADVERS"},
                 {23, "BADCOOKIE"}, {12, "RCODE12"}, {4095, "RCODE4095"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[16];
        assert_string_equal(nd_dns_rcode_name(cases[i].rcode, text, sizeof text), cases[i].name);
    }
}

static void test_query_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint16_t type;
        const char *asked;
    } good[] = {
        {"www.example.com", 1, "www.example.com."},
        {"www.example.com.", 1, "www.example.com."},
        {".", 2, "."},
        {"_sip._tcp.example.com", 33, "_sip._tcp.example.com."},
        {"*.example.com", 1, "*.example.com."},
        {"192.0.2.10", 12, "10.2.0.192.in-addr.arpa."},
        {"2001:db8::1", 12,
         "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
        /* Only PTR turns an address into its reverse name. */
        {"192.0.2.10", 1, "192.0.2.10."},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char asked[ND_DNS_NAME_TEXT_MAX];
        struct nd_error error;
        if (nd_dns_query_name(good[i].name, good[i].type, asked, sizeof asked, &error) != ND_OK)
            fail_msg("%s: %s", good[i].name, error.message);
        assert_string_equal(asked, good[i].asked);
    }
    char long_label[80], long_name[300];
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    for (size_t i = 0; i < 5; i++)
        memcpy(long_name + i * 60, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghi.",
               60);
    long_name[299] = '\0';
    const char *const bad[] = {"",         "a..b",    "a b", "tab\there", "caf\xc3\xa9.example",
                               long_label, long_name, "..",  "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char asked[ND_DNS_NAME_TEXT_MAX];
        struct nd_error error;
        if (nd_dns_query_name(bad[i], 1, asked, sizeof asked, &error) != ND_ERR_INVALID)
            fail_msg("bad name %zu was accepted as %s", i, asked);
    }
}

static size_t build(const char *name, uint16_t type, bool rd, bool dnssec, uint16_t id,
                    uint8_t *wire)
{
    struct nd_dns_query_options options = {
        .id = id, .type = type, .recursion_desired = rd, .dnssec = dnssec};
    size_t length = 0;
    struct nd_error error;
    assert_int_equal(nd_dns_build_query(name, &options, wire, ND_DNS_QUERY_MAX, &length, &error),
                     ND_OK);
    return length;
}

static void test_query_as_dig_sends_it(void **state)
{
    (void)state;
    uint8_t wire[ND_DNS_QUERY_MAX];
    size_t length = build("www.example.com.", 15, true, true, 0x1234, wire);
    /* Header, one question, no answers, one OPT record in additional. */
    assert_int_equal(wire[0], 0x12);
    assert_int_equal(wire[1], 0x34);
    assert_int_equal(wire[2], 0x01); /* RD only */
    assert_int_equal(wire[5], 1);
    assert_int_equal(wire[11], 1);
    struct nd_dns_message message;
    struct nd_error error;
    assert_int_equal(nd_dns_parse_message(wire, length, &message, &error), ND_OK);
    assert_int_equal(message.id, 0x1234);
    assert_false(message.qr);
    assert_true(message.rd);
    assert_true(message.edns);
    assert_true(message.edns_do);
    assert_int_equal(message.edns_udp_size, ND_DNS_UDP_PAYLOAD);
    assert_int_equal(message.counts[ND_DNS_QUESTION], 1);
    assert_int_equal(message.counts[ND_DNS_ADDITIONAL], 0); /* OPT is not a record here */
    assert_string_equal(message.sections[ND_DNS_QUESTION][0].name, "www.example.com.");
    assert_int_equal(message.sections[ND_DNS_QUESTION][0].type, 15);
    nd_dns_message_free(&message);

    length = build("example.com.", 1, false, false, 7, wire);
    assert_int_equal(wire[2], 0x00);
    assert_int_equal(nd_dns_parse_message(wire, length, &message, &error), ND_OK);
    assert_false(message.rd);
    assert_false(message.edns_do);
    nd_dns_message_free(&message);
}

/* A reply to query, with the records given in presentation form (one per
 * line, "answer:", "authority:" or "additional:" in front). */
static size_t make_reply(const uint8_t *query, size_t query_length, unsigned rcode,
                         const char *const *records, uint8_t **out)
{
    ldns_pkt *packet = NULL;
    assert_int_equal(ldns_wire2pkt(&packet, query, query_length), LDNS_STATUS_OK);
    ldns_pkt_set_qr(packet, true);
    ldns_pkt_set_ra(packet, true);
    ldns_pkt_set_rcode(packet, (uint8_t)rcode);
    for (size_t i = 0; records && records[i]; i++) {
        const char *text = strchr(records[i], ':') + 1;
        ldns_pkt_section section = strncmp(records[i], "answer", 6) == 0 ? LDNS_SECTION_ANSWER
                                   : strncmp(records[i], "authority", 9) == 0
                                       ? LDNS_SECTION_AUTHORITY
                                       : LDNS_SECTION_ADDITIONAL;
        ldns_rr *rr = NULL;
        ldns_status status = ldns_rr_new_frm_str(&rr, text, 300, NULL, NULL);
        if (status != LDNS_STATUS_OK)
            fail_msg("%s: %s", text, ldns_get_errorstr_by_id(status));
        assert_true(ldns_pkt_push_rr(packet, section, rr));
    }
    size_t length = 0;
    assert_int_equal(ldns_pkt2wire(out, packet, &length), LDNS_STATUS_OK);
    ldns_pkt_free(packet);
    return length;
}

static void test_classify(void **state)
{
    (void)state;
    uint8_t query[ND_DNS_QUERY_MAX], other[ND_DNS_QUERY_MAX];
    size_t query_length = build("www.example.com.", 1, true, false, 100, query);
    size_t other_length = build("www.example.com.", 28, true, false, 100, other);
    uint8_t *reply = NULL;
    size_t reply_length = make_reply(query, query_length, 0, NULL, &reply);
    char reason[160];
    assert_int_equal(
        nd_dns_classify_reply(query, query_length, reply, reply_length, reason, sizeof reason),
        ND_DNS_REPLY_MATCHES);
    assert_false(nd_dns_reply_truncated(reply, reply_length));
    /* The question differs (AAAA asked, A answered). */
    assert_int_equal(
        nd_dns_classify_reply(other, other_length, reply, reply_length, reason, sizeof reason),
        ND_DNS_REPLY_OTHER);
    assert_non_null(strstr(reason, "question"));
    /* Another id. */
    reply[1] ^= 1;
    assert_int_equal(
        nd_dns_classify_reply(query, query_length, reply, reply_length, reason, sizeof reason),
        ND_DNS_REPLY_OTHER);
    assert_non_null(strstr(reason, "id"));
    reply[1] ^= 1;
    /* The name's case may differ (RFC 4343). */
    uint8_t upper[ND_DNS_QUERY_MAX];
    size_t upper_length = build("WWW.Example.COM.", 1, true, false, 100, upper);
    assert_int_equal(
        nd_dns_classify_reply(upper, upper_length, reply, reply_length, reason, sizeof reason),
        ND_DNS_REPLY_MATCHES);
    /* The query itself, echoed back: QR is clear. */
    assert_int_equal(
        nd_dns_classify_reply(query, query_length, query, query_length, reason, sizeof reason),
        ND_DNS_REPLY_NOT_DNS);
    /* Text, and a header alone cut short. */
    static const char text[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    assert_int_equal(nd_dns_classify_reply(query, query_length, (const uint8_t *)text,
                                           sizeof text - 1, reason, sizeof reason),
                     ND_DNS_REPLY_NOT_DNS);
    assert_int_equal(nd_dns_classify_reply(query, query_length, reply, 5, reason, sizeof reason),
                     ND_DNS_REPLY_NOT_DNS);
    /* Truncated. */
    reply[2] |= 0x02;
    assert_true(nd_dns_reply_truncated(reply, reply_length));
    free(reply);
}

static const struct nd_dns_record *answer(const struct nd_dns_message *message, size_t index)
{
    assert_true(index < message->counts[ND_DNS_ANSWER]);
    return &message->sections[ND_DNS_ANSWER][index];
}

static void test_parse_records(void **state)
{
    (void)state;
    uint8_t query[ND_DNS_QUERY_MAX];
    size_t query_length = build("example.com.", 1, true, true, 9, query);
    static const char *const records[] = {
        "answer:example.com. 300 IN MX 10 mail.example.com.",
        "answer:_sip._tcp.example.com. 60 IN SRV 10 60 5060 sip.example.com.",
        "answer:example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2026112501 "
        "7200 3600 1209600 60",
        "answer:example.com. 300 IN TXT \"v=spf1 -all\" \"caf\\195\\169 \\\"q\\\" \\\\ \\000\"",
        "answer:example.com. 300 IN CAA 128 iodef \"mailto:security@example.com\"",
        "answer:example.com. 300 IN A 192.0.2.10",
        "answer:example.com. 300 IN TYPE65280 \\# 3 010203",
        "authority:example.com. 300 IN NS ns1.example.com.",
        "additional:ns1.example.com. 300 IN AAAA 2001:db8::53",
        NULL,
    };
    uint8_t *reply = NULL;
    size_t reply_length = make_reply(query, query_length, 3, records, &reply);
    struct nd_dns_message message;
    struct nd_error error;
    assert_int_equal(nd_dns_parse_message(reply, reply_length, &message, &error), ND_OK);
    free(reply);
    assert_true(message.qr);
    assert_true(message.ra);
    assert_int_equal(message.rcode, 3);
    assert_int_equal(message.counts[ND_DNS_ANSWER], 7);
    assert_int_equal(message.counts[ND_DNS_AUTHORITY], 1);
    assert_int_equal(message.counts[ND_DNS_ADDITIONAL], 1);

    const struct nd_dns_record *mx = answer(&message, 0);
    assert_string_equal(mx->name, "example.com.");
    assert_int_equal(mx->type, 15);
    assert_int_equal(mx->ttl, 300);
    assert_string_equal(mx->data, "10 mail.example.com.");
    assert_int_equal(mx->fields, ND_DNS_FIELDS_MX);
    assert_int_equal(mx->as.mx.preference, 10);
    assert_string_equal(mx->as.mx.exchange, "mail.example.com.");

    const struct nd_dns_record *srv = answer(&message, 1);
    assert_string_equal(srv->data, "10 60 5060 sip.example.com.");
    assert_int_equal(srv->as.srv.priority, 10);
    assert_int_equal(srv->as.srv.weight, 60);
    assert_int_equal(srv->as.srv.port, 5060);
    assert_string_equal(srv->as.srv.target, "sip.example.com.");

    const struct nd_dns_record *soa = answer(&message, 2);
    assert_int_equal(soa->fields, ND_DNS_FIELDS_SOA);
    assert_string_equal(soa->as.soa.mname, "ns1.example.com.");
    assert_string_equal(soa->as.soa.rname, "hostmaster.example.com.");
    assert_int_equal(soa->as.soa.serial, 2026112501u);
    assert_int_equal(soa->as.soa.refresh, 7200);
    assert_int_equal(soa->as.soa.retry, 3600);
    assert_int_equal(soa->as.soa.expire, 1209600);
    assert_int_equal(soa->as.soa.minimum, 60);
    assert_string_equal(soa->data,
                        "ns1.example.com. hostmaster.example.com. 2026112501 7200 3600 1209600 60");

    const struct nd_dns_record *txt = answer(&message, 3);
    assert_int_equal(txt->fields, ND_DNS_FIELDS_TXT);
    assert_int_equal(txt->as.txt.count, 2);
    assert_string_equal(txt->as.txt.strings[0], "v=spf1 -all");
    /* UTF-8 kept, a quote as it is, a backslash doubled, NUL as \000. */
    assert_string_equal(txt->as.txt.strings[1], "caf\xc3\xa9 \"q\" \\\\ \\000");

    const struct nd_dns_record *caa = answer(&message, 4);
    assert_int_equal(caa->fields, ND_DNS_FIELDS_CAA);
    assert_int_equal(caa->as.caa.flags, 128);
    assert_string_equal(caa->as.caa.tag, "iodef");
    assert_string_equal(caa->as.caa.value, "mailto:security@example.com");
    assert_string_equal(caa->data, "128 iodef \"mailto:security@example.com\"");

    assert_string_equal(answer(&message, 5)->data, "192.0.2.10");
    assert_int_equal(answer(&message, 5)->fields, ND_DNS_FIELDS_NONE);
    /* RFC 3597's form for a type without a mnemonic. */
    assert_string_equal(answer(&message, 6)->data, "\\# 3 010203");
    assert_string_equal(message.sections[ND_DNS_ADDITIONAL][0].data, "2001:db8::53");
    nd_dns_message_free(&message);
}

struct found_addresses {
    char texts[8][INET6_ADDRSTRLEN];
    size_t count;
};

static void found_address(int family, const uint8_t *address, void *context)
{
    struct found_addresses *found = context;
    assert_true(found->count < 8);
    assert_non_null(inet_ntop(family, address, found->texts[found->count++], INET6_ADDRSTRLEN));
}

/* The addresses alone, in order: A and AAAA of class IN; a CNAME, a TXT, an
 * A of class CH and the other sections are not addresses of the name. */
static void test_reply_addresses(void **state)
{
    (void)state;
    uint8_t query[ND_DNS_QUERY_MAX];
    size_t query_length = build("peers.test.", 1, true, true, 100, query);
    static const char *const records[] = {
        "answer:peers.test. IN CNAME netdiag-peers.test.",
        "answer:netdiag-peers.test. IN A 10.0.0.3",
        "answer:netdiag-peers.test. CH A 10.0.0.9",
        "answer:netdiag-peers.test. IN TXT \"10.0.0.8\"",
        "answer:netdiag-peers.test. IN AAAA fd00::1",
        "answer:netdiag-peers.test. IN A 10.0.0.1",
        "additional:ns.test. IN A 10.0.0.7",
        NULL,
    };
    uint8_t *reply = NULL;
    size_t reply_length = make_reply(query, query_length, 0, records, &reply);
    struct found_addresses found = {.count = 0};
    unsigned rcode = 99;
    struct nd_error error;
    assert_int_equal(
        nd_dns_reply_addresses(reply, reply_length, found_address, &found, &rcode, &error), ND_OK);
    assert_int_equal(rcode, 0);
    assert_int_equal(found.count, 3);
    assert_string_equal(found.texts[0], "10.0.0.3");
    assert_string_equal(found.texts[1], "fd00::1");
    assert_string_equal(found.texts[2], "10.0.0.1");
    free(reply);

    /* NXDOMAIN, and BADVERS, whose high bits only EDNS carries. */
    reply_length = make_reply(query, query_length, 3, NULL, &reply);
    assert_int_equal(
        nd_dns_reply_addresses(reply, reply_length, found_address, &found, &rcode, &error), ND_OK);
    assert_int_equal(rcode, 3);
    free(reply);
    ldns_pkt *packet = NULL;
    assert_int_equal(ldns_wire2pkt(&packet, query, query_length), LDNS_STATUS_OK);
    ldns_pkt_set_qr(packet, true);
    ldns_pkt_set_edns_extended_rcode(packet, 1); /* 16 = 1 << 4 | 0 */
    size_t length = 0;
    assert_int_equal(ldns_pkt2wire(&reply, packet, &length), LDNS_STATUS_OK);
    ldns_pkt_free(packet);
    assert_int_equal(nd_dns_reply_addresses(reply, length, found_address, &found, &rcode, &error),
                     ND_OK);
    assert_int_equal(rcode, 16);
    free(reply);

    found.count = 0;
    static const char text[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    assert_int_equal(nd_dns_reply_addresses((const uint8_t *)text, sizeof text - 1, found_address,
                                            &found, &rcode, &error),
                     ND_ERR_PROTOCOL);
    assert_int_equal(found.count, 0);
}

static void test_parse_refuses_garbage(void **state)
{
    (void)state;
    static const uint8_t garbage[] = {0x12, 0x34, 0x81, 0x80, 0x00, 0x05, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 'w'};
    struct nd_dns_message message;
    struct nd_error error;
    assert_int_equal(nd_dns_parse_message(garbage, sizeof garbage, &message, &error),
                     ND_ERR_PROTOCOL);
    assert_int_equal(nd_dns_parse_message(garbage, 3, &message, &error), ND_ERR_PROTOCOL);
}

/* Found by fuzz_dns: an APL record ldns reads but cannot print. Its data
 * is RFC 3597's generic form instead of a failure. */
static void test_unprintable_rdata(void **state)
{
    (void)state;
    static const uint8_t reply[] = {
        0x12, 0x34, 0x81, 0xa0, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x03, 0x77, 0x77,
        0x77, 0x07, 0x6e, 0x65, 0x74, 0x64, 0x69, 0x61, 0x67, 0x04, 0x74, 0x65, 0x73, 0x74, 0x00,
        0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x29, 0x00,
        0x04, 0xc0, 0x00, 0x02, 0x0a, 0xc0, 0x0c, 0x00, 0x2a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x29,
        0x00, 0x60, 0x00, 0x01, 0x0d, 0x03, 0x00, 0x00, 0x01, 0x2c, 0x6b, 0x32, 0x30, 0x92, 0x6b,
        0x0a, 0x95, 0x82, 0xc7, 0xc1, 0x07, 0x6e, 0x65, 0x74, 0x64, 0x69, 0x61, 0x67, 0x04, 0x74,
        0x65, 0x73, 0x74, 0x00, 0x40, 0x27, 0xad, 0x5a, 0x0f, 0x66, 0x59, 0x8c, 0x81, 0x0d, 0xcb,
        0x3b, 0xca, 0x3b, 0x56, 0xa0, 0x5b, 0xaa, 0x4c, 0xad, 0x8c, 0x81, 0xf2, 0x2a, 0x8d, 0x1b,
        0x90, 0x4a, 0xf8, 0xd1, 0x10, 0xae, 0x7a, 0x3b, 0x11, 0x49, 0x33, 0xae, 0xcb, 0x0c, 0x0a,
        0x27, 0x16, 0xf7, 0x18, 0xa2, 0x55, 0xfb, 0xd6, 0x85, 0x93, 0xd4, 0x8d, 0x96, 0x59, 0xf8,
        0x8d, 0x01, 0x32, 0xe7, 0x98, 0xe1, 0x93, 0x8f, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00,
        0x80, 0x00, 0x00, 0x00};
    struct nd_dns_message message;
    struct nd_error error;
    assert_int_equal(nd_dns_parse_message(reply, sizeof reply, &message, &error), ND_OK);
    assert_int_equal(message.counts[ND_DNS_ANSWER], 2);
    const struct nd_dns_record *apl = answer(&message, 1);
    assert_int_equal(apl->type, 42);
    assert_int_equal(strncmp(apl->data, "\\# 96 00010d03", 14), 0);
    nd_dns_message_free(&message);
}

static void test_resolv_conf(void **state)
{
    (void)state;
    struct nd_dns_servers servers;
    nd_dns_parse_resolv_conf("# generated\nsearch cluster.local\nnameserver 10.96.0.10\n"
                             "nameserver\t2001:db8::53 ; second\n"
                             "options ndots:5\nnameserver not-an-address\n"
                             "#nameserver 192.0.2.1\nnameserver 192.0.2.2#x\n",
                             &servers);
    assert_int_equal(servers.count, 3);
    assert_string_equal(servers.servers[0].host, "10.96.0.10");
    assert_int_equal(servers.servers[0].port, 53);
    assert_string_equal(servers.servers[1].host, "2001:db8::53");
    assert_string_equal(servers.servers[2].host, "192.0.2.2");

    /* No nameserver line: the local machine (resolv.conf(5)). */
    nd_dns_parse_resolv_conf("search example.com\n", &servers);
    assert_int_equal(servers.count, 1);
    assert_string_equal(servers.servers[0].host, "127.0.0.1");

    char many[1024] = "";
    for (int i = 0; i < 12; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "nameserver 192.0.2.%d\n", i);
    nd_dns_parse_resolv_conf(many, &servers);
    assert_int_equal(servers.count, ND_DNS_SERVERS_MAX);

    char path[] = "/tmp/netdiag-resolv-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "nameserver 127.0.0.53\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    struct nd_error error;
    assert_int_equal(nd_dns_read_resolv_conf(path, &servers, &error), ND_OK);
    assert_int_equal(servers.count, 1);
    assert_string_equal(servers.servers[0].host, "127.0.0.53");
    unlink(path);
    assert_int_equal(nd_dns_read_resolv_conf("/nonexistent/resolv.conf", &servers, &error), ND_OK);
    assert_string_equal(servers.servers[0].host, "127.0.0.1");
    assert_int_equal(nd_dns_read_resolv_conf("/", &servers, &error), ND_ERR_SYSTEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_rcode_names),
        cmocka_unit_test(test_query_names),
        cmocka_unit_test(test_query_as_dig_sends_it),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_parse_records),
        cmocka_unit_test(test_reply_addresses),
        cmocka_unit_test(test_parse_refuses_garbage),
        cmocka_unit_test(test_unprintable_rdata),
        cmocka_unit_test(test_resolv_conf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
