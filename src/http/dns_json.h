/*
 * A parsed DNS message as JSON, in the shape of the DNS-over-HTTPS JSON APIs
 * (Google's and Cloudflare's application/dns-json): Status, TC, RD, RA, AD,
 * CD, Question, Answer, Authority, Additional, records as {name, type, TTL,
 * data}, with their capitalization kept so that tools written for those APIs
 * read it unchanged. What netdiag adds is snake_case, as Google's own extra
 * members are: the rcode's name, dig's flags, the EDNS pseudo-section, each
 * type's mnemonic and the structured fields of MX, SRV, SOA, TXT and CAA.
 */
#ifndef NETDIAG_HTTP_DNS_JSON_H
#define NETDIAG_HTTP_DNS_JSON_H

#include <cjson/cJSON.h>

#include "netdiag/dns.h"

/* Adds the message's members to object. */
void nd_dns_json_add_message(cJSON *object, const struct nd_dns_message *message);

#endif
