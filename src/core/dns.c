#include "netdiag/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "netdiag/convert.h"
#include "netdiag/parse.h"

/* Types that are not records one can ask a server for. */
static const struct {
    uint16_t type;
    const char *reason;
} refused_types[] = {
    {LDNS_RR_TYPE_ANY, "ANY is refused: servers answer it partly or not at all (RFC 8482), "
                       "and its large answers make it an amplification vector"},
    {LDNS_RR_TYPE_AXFR, "AXFR is a zone transfer, not a query"},
    {LDNS_RR_TYPE_IXFR, "IXFR is a zone transfer, not a query"},
    {LDNS_RR_TYPE_MAILA, "MAILA is an obsolete meta type"},
    {LDNS_RR_TYPE_MAILB, "MAILB is an obsolete meta type"},
    {LDNS_RR_TYPE_OPT, "OPT is EDNS's pseudo-record, not a record type"},
    {LDNS_RR_TYPE_TSIG, "TSIG is a transaction signature, not a record type"},
    {LDNS_RR_TYPE_TKEY, "TKEY is a key exchange meta type, not a record type"},
};

enum nd_err nd_dns_parse_type(const char *text, uint16_t *type, struct nd_error *error)
{
    uint64_t number = 0;
    if (!text || text[0] == '\0')
        return nd_error_set(error, ND_ERR_INVALID, "empty record type");
    if (text[0] >= '0' && text[0] <= '9') {
        if (nd_parse_decimal(text, 65535, &number) != ND_OK || number == 0)
            return nd_error_set(error, ND_ERR_INVALID,
                                "'%.32s' is not a record type number 1-65535", text);
    } else {
        number = ldns_get_rr_type_by_name(text);
        /* ldns reads "TYPE" followed by anything as a number (0 when there
         * are no digits); only a mnemonic or TYPEnnn is a type. */
        bool numeric = strncasecmp(text, "TYPE", 4) == 0;
        uint64_t digits;
        if (number == 0 ||
            (numeric && (nd_parse_decimal(text + 4, 65535, &digits) != ND_OK || digits != number)))
            return nd_error_set(error, ND_ERR_INVALID, "'%.32s' is not a record type", text);
    }
    for (size_t i = 0; i < sizeof refused_types / sizeof refused_types[0]; i++) {
        if (refused_types[i].type == number)
            return nd_error_set(error, ND_ERR_INVALID, "%s", refused_types[i].reason);
    }
    *type = (uint16_t)number;
    return ND_OK;
}

const char *nd_dns_type_name(uint16_t type, char *text, size_t size)
{
    const ldns_rr_descriptor *descriptor = ldns_rr_descript(type);
    if (descriptor && descriptor->_name)
        snprintf(text, size, "%s", descriptor->_name);
    else
        snprintf(text, size, "TYPE%u", (unsigned)type);
    return text;
}

/* IANA "DNS RCODEs", as dig spells them. 16 is BADVERS in an OPT record
 * (BADSIG only in TSIG, which is never sent here). */
static const char *const rcode_names[] = {
    [0] = "NOERROR",  [1] = "FORMERR",    [2] = "SERVFAIL", [3] = "NXDOMAIN",   [4] = "NOTIMP",
    [5] = "REFUSED",  [6] = "YXDOMAIN",   [7] = "YXRRSET",  [8] = "NXRRSET",    [9] = "NOTAUTH",
    [10] = "NOTZONE", [11] = "DSOTYPENI", [16] = "BADVERS", [23] = "BADCOOKIE",
};

const char *nd_dns_rcode_name(unsigned rcode, char *text, size_t size)
{
    if (rcode < sizeof rcode_names / sizeof rcode_names[0] && rcode_names[rcode])
        snprintf(text, size, "%s", rcode_names[rcode]);
    else
        snprintf(text, size, "RCODE%u", rcode);
    return text;
}

enum nd_err nd_dns_query_name(const char *name, uint16_t type, char *out, size_t size,
                              struct nd_error *error)
{
    if (!name || name[0] == '\0')
        return nd_error_set(error, ND_ERR_INVALID, "empty name");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f)
            return nd_error_set(error, ND_ERR_INVALID,
                                "character %zu of the name is a space, a control character or "
                                "not ASCII (IDNs are asked for as xn-- A-labels)",
                                (size_t)(p - (const unsigned char *)name) + 1);
    }
    const char *text = name;
    struct nd_convert_address address;
    if (type == LDNS_RR_TYPE_PTR && nd_convert_text(name, &address, NULL) == ND_OK)
        text = address.reverse_pointer;
    /* ldns reads the presentation form (escapes included) and enforces the
     * RFC 1035 limits: 63 octets a label, 255 a name, no empty label. */
    ldns_rdf *dname = NULL;
    ldns_status status = ldns_str2rdf_dname(&dname, text);
    if (status != LDNS_STATUS_OK)
        return nd_error_set(error, ND_ERR_INVALID, "'%.64s' is not a domain name: %s", name,
                            ldns_get_errorstr_by_id(status));
    ldns_rdf_deep_free(dname);
    size_t length = strlen(text);
    if (length + 2 > size)
        return nd_error_set(error, ND_ERR_INVALID, "the name is too long");
    memcpy(out, text, length + 1);
    /* Fully qualified, as dig asks: no search list applies here. */
    if (length == 0 || out[length - 1] != '.' || (length >= 2 && out[length - 2] == '\\')) {
        out[length] = '.';
        out[length + 1] = '\0';
    }
    return ND_OK;
}

enum nd_err nd_dns_build_query(const char *name, const struct nd_dns_query_options *options,
                               uint8_t *wire, size_t size, size_t *length, struct nd_error *error)
{
    ldns_rdf *owner = NULL;
    if (ldns_str2rdf_dname(&owner, name) != LDNS_STATUS_OK)
        return nd_error_set(error, ND_ERR_INVALID, "'%.64s' is not a domain name", name);
    uint16_t flags = options->recursion_desired ? LDNS_RD : 0;
    if (options->checking_disabled)
        flags |= LDNS_CD;
    /* The packet takes the owner name. */
    ldns_pkt *packet = ldns_pkt_query_new(owner, options->type, LDNS_RR_CLASS_IN, flags);
    if (!packet) {
        ldns_rdf_deep_free(owner);
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    }
    ldns_pkt_set_id(packet, options->id);
    /* As dig does (RFC 6840 section 5.7): a resolver then reports in AD
     * whether it validated the answer, even without DO. */
    ldns_pkt_set_ad(packet, true);
    ldns_pkt_set_edns_udp_size(packet, ND_DNS_UDP_PAYLOAD);
    ldns_pkt_set_edns_do(packet, options->dnssec);
    uint8_t *built = NULL;
    size_t built_length = 0;
    ldns_status status = ldns_pkt2wire(&built, packet, &built_length);
    ldns_pkt_free(packet);
    if (status != LDNS_STATUS_OK)
        return nd_error_set(error, ND_ERR_NO_MEMORY, "ldns_pkt2wire: %s",
                            ldns_get_errorstr_by_id(status));
    if (built_length > size) {
        free(built);
        return nd_error_set(error, ND_ERR_RANGE, "the query is %zu bytes long", built_length);
    }
    memcpy(wire, built, built_length);
    free(built);
    *length = built_length;
    return ND_OK;
}

static void set_reason(char *reason, size_t size, const char *text)
{
    if (reason && size > 0)
        snprintf(reason, size, "%s", text);
}

enum nd_dns_reply_kind nd_dns_classify_reply(const uint8_t *query, size_t query_length,
                                             const uint8_t *reply, size_t reply_length,
                                             char *reason, size_t reason_size)
{
    ldns_pkt *sent = NULL, *received = NULL;
    enum nd_dns_reply_kind kind = ND_DNS_REPLY_NOT_DNS;
    ldns_status status = ldns_wire2pkt(&received, reply, reply_length);
    if (status != LDNS_STATUS_OK) {
        char text[160];
        snprintf(text, sizeof text, "%zu bytes that are not a DNS message (%s)", reply_length,
                 ldns_get_errorstr_by_id(status));
        set_reason(reason, reason_size, text);
        return kind;
    }
    if (!ldns_pkt_qr(received)) {
        set_reason(reason, reason_size, "a DNS message with QR clear: a query, not a response");
        goto done;
    }
    kind = ND_DNS_REPLY_OTHER;
    if (ldns_wire2pkt(&sent, query, query_length) != LDNS_STATUS_OK) {
        set_reason(reason, reason_size, "the query itself does not parse");
        goto done;
    }
    if (ldns_pkt_id(sent) != ldns_pkt_id(received)) {
        char text[96];
        snprintf(text, sizeof text, "id %u does not match the query's %u",
                 (unsigned)ldns_pkt_id(received), (unsigned)ldns_pkt_id(sent));
        set_reason(reason, reason_size, text);
        goto done;
    }
    /* RFC 5452 section 9.1: the question comes back as it was asked (name
     * compared without regard to case, RFC 4343). A server may leave the
     * question out only of an error reply (FORMERR, NOTIMP). */
    const ldns_rr_list *asked = ldns_pkt_question(sent);
    const ldns_rr_list *echoed = ldns_pkt_question(received);
    if (ldns_rr_list_rr_count(echoed) == 0 && ldns_pkt_get_rcode(received) != LDNS_RCODE_NOERROR) {
        kind = ND_DNS_REPLY_MATCHES;
        goto done;
    }
    if (ldns_rr_list_rr_count(echoed) != 1 || ldns_rr_list_rr_count(asked) != 1) {
        set_reason(reason, reason_size, "the reply does not carry the question asked");
        goto done;
    }
    const ldns_rr *a = ldns_rr_list_rr(asked, 0), *b = ldns_rr_list_rr(echoed, 0);
    if (ldns_rr_get_type(a) != ldns_rr_get_type(b) ||
        ldns_rr_get_class(a) != ldns_rr_get_class(b) ||
        ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) != 0) {
        set_reason(reason, reason_size, "the reply's question is not the one asked");
        goto done;
    }
    kind = ND_DNS_REPLY_MATCHES;
done:
    ldns_pkt_free(sent);
    ldns_pkt_free(received);
    return kind;
}

/* The flag is read from the header (RFC 1035 section 4.1.1: TC is bit 1
 * of the third byte): the reply was parsed whole when it was classified. */
bool nd_dns_reply_truncated(const uint8_t *reply, size_t reply_length)
{
    enum { FLAGS_BYTE = 2, TC_BIT = 0x02 };
    return reply_length > FLAGS_BYTE && (reply[FLAGS_BYTE] & TC_BIT) != 0;
}

/* --- Parsing a reply into plain structs. --- */

/* RFC 3597's generic form, "\# length hex": for RDATA that ldns reads but
 * cannot print (a malformed record of a known type). */
static char *generic_rdata_text(const ldns_rr *rr)
{
    size_t length = 0;
    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
        length += ldns_rdf_size(ldns_rr_rdf(rr, i));
    char *text = malloc(24 + length * 2);
    if (!text)
        return NULL;
    size_t used = (size_t)sprintf(text, "\\# %zu%s", length, length ? " " : "");
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
        const ldns_rdf *rdf = ldns_rr_rdf(rr, i);
        for (size_t j = 0; j < ldns_rdf_size(rdf); j++) {
            text[used++] = digits[ldns_rdf_data(rdf)[j] >> 4];
            text[used++] = digits[ldns_rdf_data(rdf)[j] & 0xf];
        }
    }
    text[used] = '\0';
    return text;
}

/* The RDATA of rr as dig prints it: ldns's presentation line without the
 * owner, TTL, class and type in front, and without comments. */
static char *rdata_text(const ldns_rr *rr)
{
    char *line = ldns_rr2str_fmt(ldns_output_format_nocomments, rr);
    if (!line)
        return generic_rdata_text(rr);
    char *cursor = line;
    for (int field = 0; field < 4 && cursor; field++) {
        cursor = strchr(cursor, '\t');
        if (cursor)
            cursor++;
    }
    const char *start = cursor ? cursor : "";
    size_t length = strlen(start);
    while (length > 0 && (start[length - 1] == '\n' || start[length - 1] == ' '))
        length--;
    char *data = malloc(length + 1);
    if (data) {
        memcpy(data, start, length);
        data[length] = '\0';
    }
    free(line);
    return data;
}

/* A character-string's bytes as JSON-safe text: UTF-8 sequences kept,
 * backslash doubled, everything else that is not printable as \DDD, as in
 * presentation format (RFC 1035 section 5.1). */
static char *escape_bytes(const uint8_t *bytes, size_t length)
{
    char *text = malloc(length * 4 + 1);
    if (!text)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < length;) {
        uint8_t byte = bytes[i];
        size_t sequence = 0;
        if (byte >= 0x20 && byte < 0x7f) {
            sequence = 1;
        } else if (byte >= 0xc2 && byte <= 0xf4) {
            size_t need = byte < 0xe0 ? 2 : byte < 0xf0 ? 3 : 4;
            bool valid = i + need <= length;
            for (size_t j = 1; valid && j < need; j++)
                valid = (bytes[i + j] & 0xc0) == 0x80;
            /* No overlong three- or four-byte forms, no surrogates, nothing
             * past U+10FFFF (RFC 3629). */
            if (valid && need == 3)
                valid = !(byte == 0xe0 && bytes[i + 1] < 0xa0) &&
                        !(byte == 0xed && bytes[i + 1] >= 0xa0);
            if (valid && need == 4)
                valid = !(byte == 0xf0 && bytes[i + 1] < 0x90) &&
                        !(byte == 0xf4 && bytes[i + 1] >= 0x90);
            sequence = valid ? need : 0;
        }
        if (sequence == 1 && byte == '\\') {
            text[used++] = '\\';
            text[used++] = '\\';
        } else if (sequence > 0) {
            memcpy(text + used, bytes + i, sequence);
            used += sequence;
        } else {
            used += (size_t)sprintf(text + used, "\\%03u", (unsigned)byte);
            sequence = 1;
        }
        i += sequence;
    }
    text[used] = '\0';
    return text;
}

static bool rdf_is(const ldns_rr *rr, size_t index, ldns_rdf_type type, size_t min_size)
{
    const ldns_rdf *rdf = ldns_rr_rdf(rr, index);
    return rdf && ldns_rdf_get_type(rdf) == type && ldns_rdf_size(rdf) >= min_size;
}

static uint16_t rdf_u16(const ldns_rr *rr, size_t index)
{
    return ldns_rdf2native_int16(ldns_rr_rdf(rr, index));
}

static uint32_t rdf_u32(const ldns_rr *rr, size_t index)
{
    return ldns_rdf2native_int32(ldns_rr_rdf(rr, index));
}

/* The structured fields of MX, SRV, SOA, TXT and CAA. Left at
 * ND_DNS_FIELDS_NONE when the RDATA is not of the expected shape (ldns reads
 * a malformed record of a known type as unknown data). False when memory
 * runs out. */
static bool parse_fields(const ldns_rr *rr, struct nd_dns_record *record)
{
    size_t count = ldns_rr_rd_count(rr);
    switch (ldns_rr_get_type(rr)) {
    case LDNS_RR_TYPE_MX:
        if (count != 2 || !rdf_is(rr, 0, LDNS_RDF_TYPE_INT16, 2) ||
            !rdf_is(rr, 1, LDNS_RDF_TYPE_DNAME, 1))
            return true;
        record->as.mx.preference = rdf_u16(rr, 0);
        record->as.mx.exchange = ldns_rdf2str(ldns_rr_rdf(rr, 1));
        record->fields = ND_DNS_FIELDS_MX;
        return record->as.mx.exchange != NULL;
    case LDNS_RR_TYPE_SRV:
        if (count != 4 || !rdf_is(rr, 0, LDNS_RDF_TYPE_INT16, 2) ||
            !rdf_is(rr, 1, LDNS_RDF_TYPE_INT16, 2) || !rdf_is(rr, 2, LDNS_RDF_TYPE_INT16, 2) ||
            !rdf_is(rr, 3, LDNS_RDF_TYPE_DNAME, 1))
            return true;
        record->as.srv.priority = rdf_u16(rr, 0);
        record->as.srv.weight = rdf_u16(rr, 1);
        record->as.srv.port = rdf_u16(rr, 2);
        record->as.srv.target = ldns_rdf2str(ldns_rr_rdf(rr, 3));
        record->fields = ND_DNS_FIELDS_SRV;
        return record->as.srv.target != NULL;
    case LDNS_RR_TYPE_SOA:
        if (count != 7 || !rdf_is(rr, 0, LDNS_RDF_TYPE_DNAME, 1) ||
            !rdf_is(rr, 1, LDNS_RDF_TYPE_DNAME, 1))
            return true;
        for (size_t i = 2; i < 7; i++) {
            if (ldns_rdf_size(ldns_rr_rdf(rr, i)) != 4)
                return true;
        }
        record->as.soa.mname = ldns_rdf2str(ldns_rr_rdf(rr, 0));
        record->as.soa.rname = ldns_rdf2str(ldns_rr_rdf(rr, 1));
        record->as.soa.serial = rdf_u32(rr, 2);
        record->as.soa.refresh = rdf_u32(rr, 3);
        record->as.soa.retry = rdf_u32(rr, 4);
        record->as.soa.expire = rdf_u32(rr, 5);
        record->as.soa.minimum = rdf_u32(rr, 6);
        record->fields = ND_DNS_FIELDS_SOA;
        return record->as.soa.mname && record->as.soa.rname;
    case LDNS_RR_TYPE_TXT:
        for (size_t i = 0; i < count; i++) {
            const ldns_rdf *rdf = ldns_rr_rdf(rr, i);
            if (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_STR || ldns_rdf_size(rdf) < 1 ||
                (size_t)ldns_rdf_data(rdf)[0] + 1 != ldns_rdf_size(rdf))
                return true;
        }
        record->fields = ND_DNS_FIELDS_TXT;
        record->as.txt.strings = calloc(count ? count : 1, sizeof(char *));
        if (!record->as.txt.strings)
            return false;
        for (size_t i = 0; i < count; i++) {
            const uint8_t *data = ldns_rdf_data(ldns_rr_rdf(rr, i));
            record->as.txt.strings[i] = escape_bytes(data + 1, data[0]);
            if (!record->as.txt.strings[i])
                return false;
            record->as.txt.count++;
        }
        return true;
    case LDNS_RR_TYPE_CAA: {
        /* RFC 8659 section 4.1: flags, a length-prefixed tag, the value to
         * the end of the RDATA. */
        if (count != 3 || !rdf_is(rr, 0, LDNS_RDF_TYPE_INT8, 1) ||
            !rdf_is(rr, 1, LDNS_RDF_TYPE_TAG, 1) || !rdf_is(rr, 2, LDNS_RDF_TYPE_LONG_STR, 0))
            return true;
        const ldns_rdf *tag = ldns_rr_rdf(rr, 1), *value = ldns_rr_rdf(rr, 2);
        const uint8_t *tag_data = ldns_rdf_data(tag);
        if ((size_t)tag_data[0] + 1 != ldns_rdf_size(tag))
            return true;
        record->as.caa.flags = ldns_rdf_data(ldns_rr_rdf(rr, 0))[0];
        record->as.caa.tag = escape_bytes(tag_data + 1, tag_data[0]);
        record->as.caa.value = escape_bytes(ldns_rdf_data(value), ldns_rdf_size(value));
        record->fields = ND_DNS_FIELDS_CAA;
        return record->as.caa.tag && record->as.caa.value;
    }
    default:
        return true;
    }
}

static void free_record(struct nd_dns_record *record)
{
    free(record->name);
    free(record->data);
    switch (record->fields) {
    case ND_DNS_FIELDS_MX:
        free(record->as.mx.exchange);
        break;
    case ND_DNS_FIELDS_SRV:
        free(record->as.srv.target);
        break;
    case ND_DNS_FIELDS_SOA:
        free(record->as.soa.mname);
        free(record->as.soa.rname);
        break;
    case ND_DNS_FIELDS_TXT:
        for (size_t i = 0; i < record->as.txt.count; i++)
            free(record->as.txt.strings[i]);
        free(record->as.txt.strings);
        break;
    case ND_DNS_FIELDS_CAA:
        free(record->as.caa.tag);
        free(record->as.caa.value);
        break;
    case ND_DNS_FIELDS_NONE:
        break;
    }
}

void nd_dns_message_free(struct nd_dns_message *message)
{
    for (int section = 0; section < ND_DNS_SECTION_COUNT; section++) {
        for (size_t i = 0; i < message->counts[section]; i++)
            free_record(&message->sections[section][i]);
        free(message->sections[section]);
        message->sections[section] = NULL;
        message->counts[section] = 0;
    }
}

static bool parse_record(const ldns_rr *rr, bool question, struct nd_dns_record *record)
{
    record->name = ldns_rdf2str(ldns_rr_owner(rr));
    record->type = (uint16_t)ldns_rr_get_type(rr);
    record->class_ = (uint16_t)ldns_rr_get_class(rr);
    record->ttl = question ? 0 : ldns_rr_ttl(rr);
    record->data = question ? strdup("") : rdata_text(rr);
    if (!record->name || !record->data)
        return false;
    return question || parse_fields(rr, record);
}

/* The message in length bytes of wire format, for ldns_pkt_free. */
static enum nd_err read_packet(const uint8_t *wire, size_t length, ldns_pkt **packet,
                               struct nd_error *error)
{
    *packet = NULL;
    ldns_status status = ldns_wire2pkt(packet, wire, length);
    if (status != LDNS_STATUS_OK)
        return nd_error_set(error, ND_ERR_PROTOCOL, "%zu bytes that are not a DNS message: %s",
                            length, ldns_get_errorstr_by_id(status));
    return ND_OK;
}

/* The 12-bit RCODE: the header's 4 bits, and EDNS's upper 8 when an OPT
 * record came (RFC 6891 section 6.1.3). */
static unsigned full_rcode(const ldns_pkt *packet)
{
    unsigned rcode = ldns_pkt_get_rcode(packet);
    if (ldns_pkt_edns(packet))
        rcode |= (unsigned)ldns_pkt_edns_extended_rcode(packet) << 4;
    return rcode;
}

enum nd_err nd_dns_parse_message(const uint8_t *wire, size_t length, struct nd_dns_message *out,
                                 struct nd_error *error)
{
    memset(out, 0, sizeof *out);
    ldns_pkt *packet;
    enum nd_err err = read_packet(wire, length, &packet, error);
    if (err != ND_OK)
        return err;
    out->id = ldns_pkt_id(packet);
    out->opcode = ldns_pkt_get_opcode(packet);
    out->qr = ldns_pkt_qr(packet);
    out->aa = ldns_pkt_aa(packet);
    out->tc = ldns_pkt_tc(packet);
    out->rd = ldns_pkt_rd(packet);
    out->ra = ldns_pkt_ra(packet);
    out->ad = ldns_pkt_ad(packet);
    out->cd = ldns_pkt_cd(packet);
    out->edns = ldns_pkt_edns(packet);
    out->rcode = full_rcode(packet);
    if (out->edns) {
        out->edns_version = ldns_pkt_edns_version(packet);
        out->edns_udp_size = ldns_pkt_edns_udp_size(packet);
        out->edns_do = ldns_pkt_edns_do(packet);
    }
    const ldns_rr_list *lists[ND_DNS_SECTION_COUNT] = {
        ldns_pkt_question(packet), ldns_pkt_answer(packet), ldns_pkt_authority(packet),
        ldns_pkt_additional(packet)};
    bool ok = true;
    for (int section = 0; section < ND_DNS_SECTION_COUNT && ok; section++) {
        size_t count = ldns_rr_list_rr_count(lists[section]);
        if (count == 0)
            continue;
        out->sections[section] = calloc(count, sizeof(struct nd_dns_record));
        ok = out->sections[section] != NULL;
        for (size_t i = 0; i < count && ok; i++) {
            ok = parse_record(ldns_rr_list_rr(lists[section], i), section == ND_DNS_QUESTION,
                              &out->sections[section][i]);
            out->counts[section]++; /* freed whole or half filled alike */
        }
    }
    ldns_pkt_free(packet);
    if (!ok) {
        nd_dns_message_free(out);
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    }
    return ND_OK;
}

enum nd_err nd_dns_reply_addresses(const uint8_t *wire, size_t length, nd_dns_address_fn found,
                                   void *context, unsigned *rcode, struct nd_error *error)
{
    ldns_pkt *packet;
    enum nd_err err = read_packet(wire, length, &packet, error);
    if (err != ND_OK)
        return err;
    *rcode = full_rcode(packet);
    const ldns_rr_list *answers = ldns_pkt_answer(packet);
    for (size_t i = 0; i < ldns_rr_list_rr_count(answers); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(answers, i);
        ldns_rr_type type = ldns_rr_get_type(rr);
        const ldns_rdf *data = ldns_rr_rdf(rr, 0);
        if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || !data)
            continue;
        if (type == LDNS_RR_TYPE_A && ldns_rdf_size(data) == 4)
            found(AF_INET, ldns_rdf_data(data), context);
        else if (type == LDNS_RR_TYPE_AAAA && ldns_rdf_size(data) == 16)
            found(AF_INET6, ldns_rdf_data(data), context);
    }
    ldns_pkt_free(packet);
    return ND_OK;
}

/* --- resolv.conf. --- */

void nd_dns_parse_resolv_conf(const char *text, struct nd_dns_servers *out)
{
    out->count = 0;
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        char copy[512];
        if (length < sizeof copy) {
            memcpy(copy, line, length);
            copy[length] = '\0';
            copy[strcspn(copy, "#;")] = '\0';
            char *keyword = strtok(copy, " \t\r");
            char *value = keyword ? strtok(NULL, " \t\r") : NULL;
            uint8_t packed[16];
            /* The C library takes IP literals only; an IPv6 zone ("%eth0")
             * is not carried here. */
            if (value && strcmp(keyword, "nameserver") == 0 && out->count < ND_DNS_SERVERS_MAX &&
                (inet_pton(AF_INET, value, packed) == 1 ||
                 inet_pton(AF_INET6, value, packed) == 1)) {
                struct nd_net_endpoint *server = &out->servers[out->count++];
                snprintf(server->host, sizeof server->host, "%s", value);
                server->port = ND_DNS_PORT;
            }
        }
        line = end ? end + 1 : NULL;
    }
    if (out->count == 0) {
        snprintf(out->servers[0].host, sizeof out->servers[0].host, "127.0.0.1");
        out->servers[0].port = ND_DNS_PORT;
        out->count = 1;
    }
}

enum nd_err nd_dns_read_resolv_conf(const char *path, struct nd_dns_servers *out,
                                    struct nd_error *error)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        if (errno != ENOENT)
            return nd_error_set_errno(error, errno, path);
        nd_dns_parse_resolv_conf("", out);
        return ND_OK;
    }
    /* resolv.conf is small; what is past 64 KiB is not read. */
    char *text = malloc(65536);
    if (!text) {
        fclose(file);
        return nd_error_set(error, ND_ERR_NO_MEMORY, "out of memory");
    }
    size_t length = fread(text, 1, 65535, file);
    bool failed = ferror(file) != 0;
    int saved = errno;
    fclose(file);
    if (failed) {
        free(text);
        return nd_error_set_errno(error, saved, path);
    }
    text[length] = '\0';
    nd_dns_parse_resolv_conf(text, out);
    free(text);
    return ND_OK;
}
