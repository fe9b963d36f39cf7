#include "http/dns_json.h"

#include "http/request.h"

static void add_fields(cJSON *object, const struct nd_dns_record *record)
{
    cJSON *fields;
    switch (record->fields) {
    case ND_DNS_FIELDS_MX:
        fields = nd_json_add_object(object, "fields");
        nd_json_add_integer(fields, "preference", record->as.mx.preference);
        nd_json_add_string(fields, "exchange", record->as.mx.exchange);
        return;
    case ND_DNS_FIELDS_SRV:
        fields = nd_json_add_object(object, "fields");
        nd_json_add_integer(fields, "priority", record->as.srv.priority);
        nd_json_add_integer(fields, "weight", record->as.srv.weight);
        nd_json_add_integer(fields, "port", record->as.srv.port);
        nd_json_add_string(fields, "target", record->as.srv.target);
        return;
    case ND_DNS_FIELDS_SOA:
        fields = nd_json_add_object(object, "fields");
        nd_json_add_string(fields, "mname", record->as.soa.mname);
        nd_json_add_string(fields, "rname", record->as.soa.rname);
        nd_json_add_integer(fields, "serial", record->as.soa.serial);
        nd_json_add_integer(fields, "refresh", record->as.soa.refresh);
        nd_json_add_integer(fields, "retry", record->as.soa.retry);
        nd_json_add_integer(fields, "expire", record->as.soa.expire);
        nd_json_add_integer(fields, "minimum", record->as.soa.minimum);
        return;
    case ND_DNS_FIELDS_TXT: {
        fields = nd_json_add_object(object, "fields");
        cJSON *strings = nd_json_add_array(fields, "strings");
        for (size_t i = 0; i < record->as.txt.count; i++)
            nd_json_append(strings, cJSON_CreateString(record->as.txt.strings[i]));
        return;
    }
    case ND_DNS_FIELDS_CAA:
        fields = nd_json_add_object(object, "fields");
        nd_json_add_integer(fields, "flags", record->as.caa.flags);
        nd_json_add_string(fields, "tag", record->as.caa.tag);
        nd_json_add_string(fields, "value", record->as.caa.value);
        return;
    case ND_DNS_FIELDS_NONE:
        return;
    }
}

static cJSON *record_json(const struct nd_dns_record *record, bool question)
{
    char type_name[ND_DNS_TYPE_NAME_MAX];
    cJSON *object = cJSON_CreateObject();
    nd_json_add_string(object, "name", record->name);
    nd_json_add_integer(object, "type", record->type);
    nd_json_add_string(object, "type_name",
                       nd_dns_type_name(record->type, type_name, sizeof type_name));
    if (record->class_ != 1)
        nd_json_add_integer(object, "class", record->class_);
    if (question)
        return object;
    nd_json_add_integer(object, "TTL", record->ttl);
    nd_json_add_string(object, "data", record->data);
    add_fields(object, record);
    return object;
}

static const char *const section_names[ND_DNS_SECTION_COUNT] = {"Question", "Answer", "Authority",
                                                                "Additional"};

void nd_dns_json_add_message(cJSON *object, const struct nd_dns_message *message)
{
    char rcode[16];
    nd_json_add_integer(object, "Status", message->rcode);
    nd_json_add_bool(object, "TC", message->tc);
    nd_json_add_bool(object, "RD", message->rd);
    nd_json_add_bool(object, "RA", message->ra);
    nd_json_add_bool(object, "AD", message->ad);
    nd_json_add_bool(object, "CD", message->cd);
    for (int section = 0; section < ND_DNS_SECTION_COUNT; section++) {
        cJSON *list = nd_json_add_array(object, section_names[section]);
        for (size_t i = 0; i < message->counts[section]; i++)
            nd_json_append(list,
                           record_json(&message->sections[section][i], section == ND_DNS_QUESTION));
    }
    nd_json_add_string(object, "rcode", nd_dns_rcode_name(message->rcode, rcode, sizeof rcode));
    nd_json_add_integer(object, "id", message->id);
    nd_json_add_integer(object, "opcode", message->opcode);
    /* dig's order: qr aa tc rd ra ad cd. */
    const struct {
        bool set;
        const char *name;
    } flags[] = {{message->qr, "qr"}, {message->aa, "aa"}, {message->tc, "tc"}, {message->rd, "rd"},
                 {message->ra, "ra"}, {message->ad, "ad"}, {message->cd, "cd"}};
    cJSON *list = nd_json_add_array(object, "flags");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (flags[i].set)
            nd_json_append(list, cJSON_CreateString(flags[i].name));
    }
    if (!message->edns) {
        nd_json_add_null(object, "edns");
        return;
    }
    cJSON *edns = nd_json_add_object(object, "edns");
    nd_json_add_integer(edns, "version", message->edns_version);
    nd_json_add_integer(edns, "udp_size", message->edns_udp_size);
    nd_json_add_bool(edns, "do", message->edns_do);
}
