/* src/probe/destination.c, the resolve step and the destination check both
 * probes (TCP and UDP) take: literals, a lookup's answer (each address once,
 * with the port, at most ND_CONNECT_ADDRESSES_MAX), a lookup that failed,
 * one started on a loop, and the destination list with its sensitive-address
 * rule and its messages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/destination.h"

struct step {
    struct nd_connect_result result;
    struct nd_destination destination;
    struct nd_allowlist allow;
};

/* allow: a --connect-allow list, or NULL for none. */
static void step_for(struct step *step, const char *host, uint16_t port,
                     enum nd_resolve_family family, const char *allow)
{
    memset(step, 0, sizeof *step);
    if (allow)
        assert_int_equal(nd_allowlist_parse(allow, &step->allow, NULL), ND_OK);
    step->destination = (struct nd_destination){.host = host,
                                                .port = port,
                                                .family = family,
                                                .allow = allow ? &step->allow : NULL,
                                                .result = &step->result};
}

/* A getaddrinfo answer built by hand: the lookup's own order and repeats. */
struct answer {
    struct addrinfo entries[ND_CONNECT_ADDRESSES_MAX + 4];
    struct sockaddr_in6 addresses[ND_CONNECT_ADDRESSES_MAX + 4];
    size_t count;
};

static void answer_add(struct answer *answer, const char *text)
{
    size_t index = answer->count++;
    struct addrinfo *entry = &answer->entries[index];
    memset(entry, 0, sizeof *entry);
    struct sockaddr_in6 *address = &answer->addresses[index];
    memset(address, 0, sizeof *address);
    /* The family is set from the branch taken, not read back through the
     * other struct's type (an optimizer may assume the two do not alias). */
    struct sockaddr_in *v4 = (struct sockaddr_in *)address;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        entry->ai_family = AF_INET;
        entry->ai_addrlen = sizeof *v4;
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &address->sin6_addr), 1);
        address->sin6_family = AF_INET6;
        entry->ai_family = AF_INET6;
        entry->ai_addrlen = sizeof *address;
    }
    entry->ai_socktype = SOCK_STREAM;
    entry->ai_addr = (struct sockaddr *)address;
    if (index > 0)
        answer->entries[index - 1].ai_next = entry;
}

static void test_literals(void **state)
{
    (void)state;
    struct step step;
    step_for(&step, "127.0.0.1", 7, ND_RESOLVE_ANY, NULL);
    assert_true(nd_destination_take_literal(&step.destination));
    assert_true(step.result.literal);
    assert_int_equal(step.result.resolve_error.code, ND_OK);
    assert_int_equal(step.result.address_count, 1);
    assert_int_equal(step.result.addresses[0].family, AF_INET);
    assert_string_equal(step.result.addresses[0].text, "127.0.0.1");
    assert_int_equal(step.destination.addresses[0].any.sa_family, AF_INET);
    assert_int_equal(ntohs(step.destination.addresses[0].v4.sin_port), 7);

    step_for(&step, "::1", 443, ND_RESOLVE_IPV6, NULL);
    assert_true(nd_destination_take_literal(&step.destination));
    assert_int_equal(step.result.address_count, 1);
    assert_string_equal(step.result.addresses[0].text, "::1");
    assert_int_equal(step.destination.addresses[0].any.sa_family, AF_INET6);
    assert_int_equal(ntohs(step.destination.addresses[0].v6.sin6_port), 443);

    /* A name is looked up; nothing is recorded yet. */
    step_for(&step, "localhost", 7, ND_RESOLVE_ANY, NULL);
    assert_false(nd_destination_take_literal(&step.destination));
    assert_false(step.result.literal);
    assert_int_equal(step.result.address_count, 0);
}

/* A literal of the other family is the resolve step's failure, as
 * getaddrinfo would say it: EAI_ADDRFAMILY, and no address to try. */
static void test_literal_of_the_wrong_family(void **state)
{
    (void)state;
    struct step step;
    step_for(&step, "::1", 53, ND_RESOLVE_IPV4, NULL);
    assert_true(nd_destination_take_literal(&step.destination));
    assert_true(step.result.literal);
    assert_int_equal(step.result.address_count, 0);
    assert_int_equal(step.result.resolve_error.code, ND_ERR_RESOLVE);
    assert_int_equal(step.result.resolve_error.gai_error, EAI_ADDRFAMILY);
    assert_string_equal(step.result.resolve_error.message, "::1 is not an IPv4 address");

    step_for(&step, "127.0.0.1", 53, ND_RESOLVE_IPV6, NULL);
    assert_true(nd_destination_take_literal(&step.destination));
    assert_string_equal(step.result.resolve_error.message, "127.0.0.1 is not an IPv6 address");
}

static void test_lookup_answer(void **state)
{
    (void)state;
    struct step step;
    step_for(&step, "db.test", 5432, ND_RESOLVE_ANY, NULL);
    struct answer answer = {.count = 0};
    answer_add(&answer, "10.0.0.2");
    answer_add(&answer, "fd00::2");
    answer_add(&answer, "10.0.0.2"); /* once per socket type, or a resolver's repeat */
    answer_add(&answer, "10.0.0.1");
    assert_true(nd_destination_take_lookup(&step.destination, 0, &answer.entries[0]));
    assert_false(step.result.literal);
    assert_int_equal(step.result.resolve_error.code, ND_OK);
    assert_int_equal(step.result.address_count, 3);
    assert_false(step.result.addresses_truncated);
    assert_string_equal(step.result.addresses[0].text, "10.0.0.2");
    assert_string_equal(step.result.addresses[1].text, "fd00::2");
    assert_int_equal(step.result.addresses[1].family, AF_INET6);
    assert_string_equal(step.result.addresses[2].text, "10.0.0.1");
    assert_int_equal(ntohs(step.destination.addresses[0].v4.sin_port), 5432);
    assert_int_equal(ntohs(step.destination.addresses[1].v6.sin6_port), 5432);
    assert_int_equal(ntohs(step.destination.addresses[2].v4.sin_port), 5432);
}

static void test_lookup_answer_truncated(void **state)
{
    (void)state;
    struct step step;
    step_for(&step, "many.test", 80, ND_RESOLVE_ANY, NULL);
    struct answer answer = {.count = 0};
    for (unsigned i = 0; i < ND_CONNECT_ADDRESSES_MAX + 2; i++) {
        char text[INET_ADDRSTRLEN];
        snprintf(text, sizeof text, "10.0.0.%u", i + 1);
        answer_add(&answer, text);
    }
    assert_true(nd_destination_take_lookup(&step.destination, 0, &answer.entries[0]));
    assert_int_equal(step.result.address_count, ND_CONNECT_ADDRESSES_MAX);
    assert_true(step.result.addresses_truncated);
    assert_string_equal(step.result.addresses[ND_CONNECT_ADDRESSES_MAX - 1].text, "10.0.0.16");
}

static void test_lookup_failed(void **state)
{
    (void)state;
    struct step step;
    step_for(&step, "no-such-host.invalid", 80, ND_RESOLVE_ANY, NULL);
    assert_false(nd_destination_take_lookup(&step.destination, UV_EAI_NONAME, NULL));
    assert_int_equal(step.result.address_count, 0);
    assert_int_equal(step.result.resolve_error.code, ND_ERR_RESOLVE);
    assert_int_equal(step.result.resolve_error.gai_error, EAI_NONAME);
    assert_non_null(strstr(step.result.resolve_error.message, "getaddrinfo(no-such-host.invalid)"));
}

/* An answer with no IPv4 or IPv6 address is a failed lookup, not a probe
 * with nothing to try. */
static void test_lookup_without_an_address(void **state)
{
    (void)state;
    struct step step;
    step_for(&step, "odd.test", 80, ND_RESOLVE_ANY, NULL);
    struct answer answer = {.count = 0};
    answer_add(&answer, "192.0.2.1");
    answer.entries[0].ai_family = AF_UNIX;
    assert_false(nd_destination_take_lookup(&step.destination, 0, &answer.entries[0]));
    assert_int_equal(step.result.address_count, 0);
    assert_int_equal(step.result.resolve_error.code, ND_ERR_RESOLVE);
    assert_int_equal(step.result.resolve_error.gai_error, EAI_NODATA);
}

/* nd_destination_look_up on a loop of its own, its answer handed back as a
 * probe's callback does; localhost comes from /etc/hosts (the tests' names
 * come from files alone). */
static void looked_up(uv_getaddrinfo_t *lookup, int status, struct addrinfo *list)
{
    struct step *step = lookup->data;
    assert_int_equal(status, 0);
    assert_true(nd_destination_take_lookup(&step->destination, status, list));
    uv_freeaddrinfo(list);
}

static void test_look_up_on_a_loop(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct step step;
    step_for(&step, "localhost", 9, ND_RESOLVE_IPV4, NULL);
    uv_getaddrinfo_t lookup;
    lookup.data = &step;
    assert_true(nd_destination_look_up(&step.destination, &loop, &lookup, looked_up));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_true(step.result.address_count >= 1);
    assert_string_equal(step.result.addresses[0].text, "127.0.0.1");
    assert_int_equal(ntohs(step.destination.addresses[0].v4.sin_port), 9);
}

/* Every address is checked, and the message names the first refused: the
 * address alone for a literal, the name and the address for a name. */
static void test_allowed(void **state)
{
    (void)state;
    struct nd_error error;
    struct step step;
    step_for(&step, "127.0.0.1", 53, ND_RESOLVE_ANY, NULL);
    assert_true(nd_destination_take_literal(&step.destination));
    assert_true(nd_destination_allowed(&step.destination, &error));

    step_for(&step, "127.0.0.1", 53, ND_RESOLVE_ANY, "10.0.0.0/8");
    assert_true(nd_destination_take_literal(&step.destination));
    assert_false(nd_destination_allowed(&step.destination, &error));
    assert_int_equal(error.code, ND_ERR_FORBIDDEN);
    assert_string_equal(error.message,
                        "127.0.0.1 port 53 is not in this service's --connect-allow list");

    step_for(&step, "db.test", 5432, ND_RESOLVE_ANY, "10.0.0.0/8");
    struct answer answer = {.count = 0};
    answer_add(&answer, "10.0.0.1");
    answer_add(&answer, "192.0.2.1");
    assert_true(nd_destination_take_lookup(&step.destination, 0, &answer.entries[0]));
    assert_false(nd_destination_allowed(&step.destination, &error));
    assert_string_equal(error.message, "db.test (address 192.0.2.1) port 5432 is not in this "
                                       "service's --connect-allow list");

    /* Without the address outside the list, the name passes. */
    answer.entries[0].ai_next = NULL;
    step_for(&step, "db.test", 5432, ND_RESOLVE_ANY, "10.0.0.0/8:5432");
    assert_true(nd_destination_take_lookup(&step.destination, 0, &answer.entries[0]));
    assert_true(nd_destination_allowed(&step.destination, &error));
}

/* The sensitive-address rule (nd_allowlist_permits_destination): a
 * link-local or metadata address passes only through a network inside its
 * block, never a catch-all network, nor a name allowed by name. */
static void test_sensitive_addresses(void **state)
{
    (void)state;
    struct nd_error error;
    struct step step;
    step_for(&step, "169.254.169.254", 80, ND_RESOLVE_ANY, "0.0.0.0/0");
    assert_true(nd_destination_take_literal(&step.destination));
    assert_false(nd_destination_allowed(&step.destination, &error));
    assert_int_equal(error.code, ND_ERR_FORBIDDEN);

    step_for(&step, "169.254.169.254", 80, ND_RESOLVE_ANY, "169.254.169.254/32");
    assert_true(nd_destination_take_literal(&step.destination));
    assert_true(nd_destination_allowed(&step.destination, &error));

    step_for(&step, "fe80::1", 80, ND_RESOLVE_ANY, "::/0");
    assert_true(nd_destination_take_literal(&step.destination));
    assert_false(nd_destination_allowed(&step.destination, &error));

    step_for(&step, "metadata.test", 80, ND_RESOLVE_ANY, "metadata.test");
    struct answer answer = {.count = 0};
    answer_add(&answer, "169.254.169.254");
    assert_true(nd_destination_take_lookup(&step.destination, 0, &answer.entries[0]));
    assert_false(nd_destination_allowed(&step.destination, &error));
    assert_string_equal(error.message, "metadata.test (address 169.254.169.254) port 80 is not "
                                       "in this service's --connect-allow list");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_literal_of_the_wrong_family),
        cmocka_unit_test(test_lookup_answer),
        cmocka_unit_test(test_lookup_answer_truncated),
        cmocka_unit_test(test_lookup_failed),
        cmocka_unit_test(test_lookup_without_an_address),
        cmocka_unit_test(test_look_up_on_a_loop),
        cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_sensitive_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
