#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "netdiag/hostinfo.h"

struct prefix_case {
    int family;
    const char *mask;
    int expected;
};

static const struct prefix_case prefix_cases[] = {
    /* The masks of the loopback addresses the recipe's host reports. */
    {AF_INET, "255.0.0.0", 8},
    {AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128},
    {AF_INET, "0.0.0.0", 0},
    {AF_INET, "128.0.0.0", 1},
    {AF_INET, "255.255.0.0", 16},
    {AF_INET, "255.255.254.0", 23},
    {AF_INET, "255.255.255.0", 24},
    {AF_INET, "255.255.255.128", 25},
    {AF_INET, "255.255.255.252", 30},
    {AF_INET, "255.255.255.254", 31},
    {AF_INET, "255.255.255.255", 32},
    /* Non-contiguous: no prefix length. */
    {AF_INET, "255.0.255.0", -1},
    {AF_INET, "0.255.255.255", -1},
    {AF_INET, "255.255.255.1", -1},
    {AF_INET, "254.255.255.255", -1},
    {AF_INET, "0.0.0.1", -1},
    {AF_INET6, "::", 0},
    {AF_INET6, "8000::", 1},
    {AF_INET6, "ffff:ff80::", 25},
    {AF_INET6, "ffff:ffff:ffff:ffff::", 64},
    {AF_INET6, "ffff:ffff:ffff:ffff:8000::", 65},
    {AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 127},
    {AF_INET6, "ffff::ffff", -1},
    {AF_INET6, "::1", -1},
    {AF_INET6, "ff7f::", -1},
    {AF_INET6, "ffff:ffff:ffff:ffff:0:0:0:1", -1},
};

static void test_prefix_length(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof prefix_cases / sizeof prefix_cases[0]; i++) {
        const struct prefix_case *test = &prefix_cases[i];
        int prefix_length;
        if (test->family == AF_INET) {
            struct sockaddr_in mask = {.sin_family = AF_INET};
            assert_int_equal(inet_pton(AF_INET, test->mask, &mask.sin_addr), 1);
            prefix_length = nd_hostinfo_prefix_length((const struct sockaddr *)&mask);
        } else {
            struct sockaddr_in6 mask = {.sin6_family = AF_INET6};
            assert_int_equal(inet_pton(AF_INET6, test->mask, &mask.sin6_addr), 1);
            prefix_length = nd_hostinfo_prefix_length((const struct sockaddr *)&mask);
        }
        if (prefix_length != test->expected)
            fail_msg("mask %s: prefix length %d, expected %d", test->mask, prefix_length,
                     test->expected);
    }
}

static void test_prefix_length_other_families(void **state)
{
    (void)state;
    assert_int_equal(nd_hostinfo_prefix_length(NULL), -1);
    struct sockaddr_un local = {.sun_family = AF_UNIX};
    assert_int_equal(nd_hostinfo_prefix_length((const struct sockaddr *)&local), -1);
    /* The same bytes as 255.0.0.0 but no family: not a mask we can read. */
    struct sockaddr_in unspecified = {.sin_family = AF_UNSPEC};
    unspecified.sin_addr.s_addr = htonl(0xff000000u);
    assert_int_equal(nd_hostinfo_prefix_length((const struct sockaddr *)&unspecified), -1);
}

static void test_flag_names(void **state)
{
    (void)state;
    const char *names[ND_HOSTINFO_FLAG_NAMES_MAX];

    assert_int_equal(nd_hostinfo_flag_names(IFF_UP | IFF_LOOPBACK | IFF_RUNNING, names,
                                            ND_HOSTINFO_FLAG_NAMES_MAX),
                     3);
    assert_string_equal(names[0], "up");
    assert_string_equal(names[1], "loopback");
    assert_string_equal(names[2], "running");

    /* eth0 as the kernel reports it: BROADCAST,MULTICAST,UP,LOWER_UP. */
    assert_int_equal(nd_hostinfo_flag_names(0x11043, names, ND_HOSTINFO_FLAG_NAMES_MAX), 5);
    assert_string_equal(names[0], "up");
    assert_string_equal(names[1], "broadcast");
    assert_string_equal(names[2], "running");
    assert_string_equal(names[3], "multicast");
    assert_string_equal(names[4], "lower_up");

    assert_int_equal(nd_hostinfo_flag_names(IFF_POINTOPOINT | IFF_NOARP | IFF_PROMISC, names,
                                            ND_HOSTINFO_FLAG_NAMES_MAX),
                     3);
    assert_string_equal(names[0], "pointopoint");
    assert_string_equal(names[1], "noarp");
    assert_string_equal(names[2], "promisc");

    assert_int_equal(nd_hostinfo_flag_names(0, names, ND_HOSTINFO_FLAG_NAMES_MAX), 0);
    assert_int_equal(nd_hostinfo_flag_names(1u << 30, names, ND_HOSTINFO_FLAG_NAMES_MAX), 0);
    assert_int_equal(nd_hostinfo_flag_names((1u << 19) - 1, names, ND_HOSTINFO_FLAG_NAMES_MAX),
                     ND_HOSTINFO_FLAG_NAMES_MAX);
    assert_string_equal(names[ND_HOSTINFO_FLAG_NAMES_MAX - 1], "echo");

    /* Capacity bounds the output. */
    assert_int_equal(nd_hostinfo_flag_names(IFF_UP | IFF_LOOPBACK | IFF_RUNNING, names, 2), 2);
    assert_string_equal(names[1], "loopback");
}

static const struct nd_hostinfo_interface *find_interface(const struct nd_hostinfo_interfaces *list,
                                                          const char *name)
{
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->interfaces[i].name, name) == 0)
            return &list->interfaces[i];
    }
    return NULL;
}

static const struct nd_hostinfo_interface_address *
find_address(const struct nd_hostinfo_interface *interface, int family)
{
    for (size_t i = 0; i < interface->address_count; i++) {
        if (interface->addresses[i].address.family == family)
            return &interface->addresses[i];
    }
    return NULL;
}

static void test_interfaces_loopback(void **state)
{
    (void)state;
    struct nd_hostinfo_interfaces *list = calloc(1, sizeof *list);
    assert_non_null(list);
    struct nd_error error;
    assert_int_equal(nd_hostinfo_interfaces(list, &error), ND_OK);
    assert_true(list->count > 0 && list->count <= ND_HOSTINFO_INTERFACES_MAX);

    const struct nd_hostinfo_interface *loopback = find_interface(list, "lo");
    assert_non_null(loopback);
    assert_int_equal(loopback->index, if_nametoindex("lo"));
    assert_true(loopback->index > 0);
    assert_true(loopback->flags & IFF_LOOPBACK);
    assert_true(loopback->flags & IFF_UP);
    assert_false(loopback->flags & IFF_BROADCAST);
    assert_true(loopback->mtu > 0);
    /* The kernel gives loopback an all-zero hardware address when it lists
     * its AF_PACKET entry at all. */
    if (loopback->hardware_address[0] != '\0')
        assert_string_equal(loopback->hardware_address, "00:00:00:00:00:00");

    const struct nd_hostinfo_interface_address *ipv4 = find_address(loopback, AF_INET);
    assert_non_null(ipv4);
    assert_string_equal(ipv4->address.text, "127.0.0.1");
    assert_int_equal(ipv4->prefix_length, 8);
    assert_string_equal(ipv4->broadcast, "");
    assert_string_equal(ipv4->peer, "");

    /* IPv6 may be disabled; when it is not, loopback has ::1/128. */
    const struct nd_hostinfo_interface_address *ipv6 = find_address(loopback, AF_INET6);
    if (ipv6) {
        assert_string_equal(ipv6->address.text, "::1");
        assert_int_equal(ipv6->prefix_length, 128);
    }
    free(list);
}

static void test_interfaces_consistent(void **state)
{
    (void)state;
    struct nd_hostinfo_interfaces *list = calloc(1, sizeof *list);
    assert_non_null(list);
    assert_int_equal(nd_hostinfo_interfaces(list, NULL), ND_OK);
    for (size_t i = 0; i < list->count; i++) {
        const struct nd_hostinfo_interface *interface = &list->interfaces[i];
        assert_true(interface->name[0] != '\0');
        for (size_t j = i + 1; j < list->count; j++)
            assert_string_not_equal(interface->name, list->interfaces[j].name);
        assert_true(interface->address_count <= ND_HOSTINFO_INTERFACE_ADDRESSES_MAX);
        size_t mac_length = strlen(interface->hardware_address);
        assert_true(mac_length == 0 || mac_length % 3 == 2);
        for (size_t k = 0; k < interface->address_count; k++) {
            const struct nd_hostinfo_interface_address *address = &interface->addresses[k];
            assert_true(address->address.family == AF_INET || address->address.family == AF_INET6);
            unsigned char bytes[sizeof(struct in6_addr)];
            assert_int_equal(inet_pton(address->address.family, address->address.text, bytes), 1);
            int limit = address->address.family == AF_INET ? 32 : 128;
            assert_true(address->prefix_length >= -1 && address->prefix_length <= limit);
            if (address->broadcast[0] != '\0') {
                assert_int_equal(address->address.family, AF_INET);
                assert_true(interface->flags & IFF_BROADCAST);
            }
            if (address->peer[0] != '\0')
                assert_true(interface->flags & IFF_POINTOPOINT);
        }
    }
    free(list);
}

static void test_names(void **state)
{
    (void)state;
    struct nd_hostinfo_names *names = calloc(1, sizeof *names);
    assert_non_null(names);
    struct nd_error error;
    assert_int_equal(nd_hostinfo_names(names, &error), ND_OK);

    char expected[ND_HOSTINFO_HOST_NAME_MAX];
    assert_int_equal(gethostname(expected, sizeof expected), 0);
    assert_true(names->host_name[0] != '\0');
    assert_string_equal(names->host_name, expected);

    /* Without network access the name may or may not resolve (it does when
     * /etc/hosts lists it); either way the result must be coherent. */
    if (names->resolve.code != ND_OK) {
        assert_int_equal(names->resolve.code, ND_ERR_RESOLVE);
        assert_int_not_equal(names->resolve.gai_error, 0);
        assert_non_null(strstr(names->resolve.message, "resolving host name '"));
        assert_int_equal(names->address_count, 0);
        assert_string_equal(names->ipv4_address, "");
        free(names);
        return;
    }
    assert_true(names->canonical_name[0] != '\0');
    assert_true(names->address_count > 0);
    assert_true(names->address_count <= ND_HOSTINFO_ADDRESSES_MAX);
    bool ipv4_listed = false;
    for (size_t i = 0; i < names->address_count; i++) {
        const struct nd_hostinfo_address *address = &names->addresses[i];
        unsigned char bytes[sizeof(struct in6_addr)];
        assert_int_equal(inet_pton(address->family, address->text, bytes), 1);
        for (size_t j = i + 1; j < names->address_count; j++) {
            assert_false(address->family == names->addresses[j].family &&
                         strcmp(address->text, names->addresses[j].text) == 0);
        }
        if (address->family == AF_INET && !ipv4_listed) {
            assert_string_equal(address->text, names->ipv4_address);
            ipv4_listed = true;
        }
    }
    if (!ipv4_listed && !names->addresses_truncated)
        assert_string_equal(names->ipv4_address, "");
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_length),
        cmocka_unit_test(test_prefix_length_other_families),
        cmocka_unit_test(test_flag_names),
        cmocka_unit_test(test_interfaces_loopback),
        cmocka_unit_test(test_interfaces_consistent),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
