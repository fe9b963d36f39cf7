/*
 * DNS messages, as dig and the DNS-over-HTTPS JSON APIs show them: a query
 * built for any record type, and a reply parsed into plain structs with the
 * presentation text of every record (ldns does the wire format, so nothing
 * here decodes a packet by hand). Also the names a user types: record types,
 * response codes, the in-addr.arpa / ip6.arpa name of an address, and the
 * nameservers of resolv.conf.
 */
#ifndef NETDIAG_DNS_H
#define NETDIAG_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netdiag/error.h"
#include "netdiag/net.h"

enum {
    ND_DNS_PORT = 53,
    /* RFC 1035 section 2.3.4: 255 octets on the wire, so at most 253
     * characters of text without the final dot, 254 with it. Escapes
     * (\DDD) in presentation text make it longer: 4 characters a byte. */
    ND_DNS_NAME_TEXT_MAX = 1024,
    ND_DNS_TYPE_NAME_MAX = 16, /* "TYPE65535" */
    /* The EDNS(0) payload size dig and the 2020 DNS flag day recommend: an
     * answer larger than this comes back truncated, and is asked again over
     * TCP, rather than fragmented. */
    ND_DNS_UDP_PAYLOAD = 1232,
    ND_DNS_HEADER_SIZE = 12,
    ND_DNS_MESSAGE_MAX = 65535, /* TCP's two-byte length prefix */
    ND_DNS_QUERY_MAX = 512,     /* one question and an OPT record */
    ND_DNS_SERVERS_MAX = 8,
};

/* A record type a user may ask for: a mnemonic ("MX", "https", "TYPE65280")
 * or a number 1-65535. ND_ERR_INVALID, naming the reason, for an unknown
 * mnemonic, 0, and the meta types that are not record types or would turn a
 * query into something else: ANY (255; RFC 8482, and an amplification
 * vector), AXFR and IXFR (zone transfers), MAILA, MAILB, OPT, TKEY, TSIG. */
enum nd_err nd_dns_parse_type(const char *text, uint16_t *type, struct nd_error *error);

/* "A", "HTTPS", or "TYPE65280" for a type without a mnemonic, into text
 * (ND_DNS_TYPE_NAME_MAX bytes). Returns text. */
const char *nd_dns_type_name(uint16_t type, char *text, size_t size);

/* The IANA registry's name of a response code, upper case as dig prints it
 * ("NOERROR", "NXDOMAIN", "NOTIMP", "BADVERS"), "RCODE23" for one without a
 * name here. rcode includes the EDNS extended bits (RFC 6891 section 6.1.3). */
const char *nd_dns_rcode_name(unsigned rcode, char *text, size_t size);

/* The name to ask for: name itself, or for type PTR and an IP address
 * ("192.0.2.10", "2001:db8::1") its in-addr.arpa or ip6.arpa name. The name
 * is checked as presentation text: ND_ERR_INVALID for an empty name, a
 * space or control character, a label over 63 octets, an empty label, or a
 * name over 255 octets on the wire. */
enum nd_err nd_dns_query_name(const char *name, uint16_t type, char *out, size_t size,
                              struct nd_error *error);

struct nd_dns_query_options {
    uint16_t id;
    uint16_t type;
    bool recursion_desired; /* RD */
    bool dnssec;            /* the DO bit (RFC 3225): ask for signatures */
    bool checking_disabled; /* CD */
};

/* One query for name (already through nd_dns_query_name), class IN, with an
 * EDNS(0) OPT record advertising ND_DNS_UDP_PAYLOAD, as dig sends it, into
 * wire (at least ND_DNS_QUERY_MAX bytes). */
enum nd_err nd_dns_build_query(const char *name, const struct nd_dns_query_options *options,
                               uint8_t *wire, size_t size, size_t *length, struct nd_error *error);

/* How a datagram relates to the query that was sent. */
enum nd_dns_reply_kind {
    ND_DNS_REPLY_MATCHES, /* a DNS response to this query */
    ND_DNS_REPLY_OTHER,   /* a DNS response, but to another query (id or question differ) */
    ND_DNS_REPLY_NOT_DNS, /* does not parse as a DNS response at all */
};

/* Classifies a reply to query. A response whose id or question differ is
 * not an error of the server's (a late answer to an earlier query, or a
 * spoofing attempt, RFC 5452): over UDP it is dropped and the wait goes on.
 * reason (may be NULL) says why it did not match or parse. */
enum nd_dns_reply_kind nd_dns_classify_reply(const uint8_t *query, size_t query_length,
                                             const uint8_t *reply, size_t reply_length,
                                             char *reason, size_t reason_size);

/* True when the reply's TC flag is set. reply must have been classified
 * ND_DNS_REPLY_MATCHES. */
bool nd_dns_reply_truncated(const uint8_t *reply, size_t reply_length);

/* The structured view of the common types, beside the presentation text. */
enum nd_dns_fields_kind {
    ND_DNS_FIELDS_NONE,
    ND_DNS_FIELDS_MX,
    ND_DNS_FIELDS_SRV,
    ND_DNS_FIELDS_SOA,
    ND_DNS_FIELDS_TXT,
    ND_DNS_FIELDS_CAA,
};

struct nd_dns_record {
    char *name; /* owner, presentation form with the final dot */
    uint16_t type;
    uint16_t class_; /* 1 = IN */
    uint32_t ttl;
    char *data; /* the RDATA as dig prints it; "" for a question */
    enum nd_dns_fields_kind fields;
    union {
        struct {
            uint16_t preference;
            char *exchange;
        } mx;
        struct {
            uint16_t priority, weight, port;
            char *target;
        } srv;
        struct {
            char *mname, *rname;
            uint32_t serial, refresh, retry, expire, minimum;
        } soa;
        struct {
            /* Each character-string: UTF-8 kept, a backslash as "\\",
             * other bytes that are not printable text as "\DDD". */
            char **strings;
            size_t count;
        } txt;
        struct {
            uint8_t flags;
            char *tag;
            char *value; /* escaped as a TXT string */
        } caa;
    } as;
};

enum nd_dns_section { ND_DNS_QUESTION, ND_DNS_ANSWER, ND_DNS_AUTHORITY, ND_DNS_ADDITIONAL };
enum { ND_DNS_SECTION_COUNT = 4 };

struct nd_dns_message {
    uint16_t id;
    unsigned opcode;
    unsigned rcode; /* with the EDNS extended bits */
    bool qr, aa, tc, rd, ra, ad, cd;
    bool edns; /* an OPT record was present */
    unsigned edns_version;
    unsigned edns_udp_size;
    bool edns_do;
    /* The OPT record is not a record of the additional section here: it is
     * reported in the edns members, as dig's OPT PSEUDOSECTION. */
    struct nd_dns_record *sections[ND_DNS_SECTION_COUNT];
    size_t counts[ND_DNS_SECTION_COUNT];
};

/* Parses a whole DNS message. On ND_OK, *out holds memory that
 * nd_dns_message_free gives back; on failure (ND_ERR_PROTOCOL: not a DNS
 * message, with ldns's reason; ND_ERR_NO_MEMORY) nothing is left to free. */
enum nd_err nd_dns_parse_message(const uint8_t *wire, size_t length, struct nd_dns_message *out,
                                 struct nd_error *error);

void nd_dns_message_free(struct nd_dns_message *message);

/* The addresses of a reply's A and AAAA answers of class IN, in order, each
 * to found(family, the 4 or 16 bytes of the address, context), and its
 * response code (with the EDNS extended bits) into *rcode: what a client
 * that wants only addresses needs, without the presentation text
 * nd_dns_parse_message makes of every record. ND_ERR_PROTOCOL for what is
 * not a DNS message; found is not called then. */
typedef void (*nd_dns_address_fn)(int family, const uint8_t *address, void *context);
enum nd_err nd_dns_reply_addresses(const uint8_t *wire, size_t length, nd_dns_address_fn found,
                                   void *context, unsigned *rcode, struct nd_error *error);

/* The nameservers of a resolv.conf text ("nameserver ADDRESS" lines, port
 * 53; comments after '#' or ';'), in order, at most ND_DNS_SERVERS_MAX.
 * Other lines, and addresses that are not IP literals, are ignored, as the C
 * library does; with none, 127.0.0.1 (resolv.conf(5): the local machine). */
struct nd_dns_servers {
    size_t count;
    struct nd_net_endpoint servers[ND_DNS_SERVERS_MAX];
};
void nd_dns_parse_resolv_conf(const char *text, struct nd_dns_servers *out);

/* The same from a file. A file that does not exist is an empty one, as for
 * the C library; ND_ERR_SYSTEM when it cannot be read. */
enum nd_err nd_dns_read_resolv_conf(const char *path, struct nd_dns_servers *out,
                                    struct nd_error *error);

#endif
