/* src/core/error.c: names and messages of the one error type. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "netdiag/error.h"

static void test_every_code_has_a_name_and_message(void **state)
{
    (void)state;
    for (int code = ND_OK; code < ND_ERR__COUNT; code++) {
        assert_int_equal(strncmp(nd_err_name((enum nd_err)code), "ND_", 3), 0);
        assert_true(strlen(nd_strerror((enum nd_err)code)) > 0);
    }
    assert_string_equal(nd_err_name(ND_ERR_TIMEOUT), "ND_ERR_TIMEOUT");
    assert_string_equal(nd_err_name((enum nd_err)999), "ND_ERR_UNKNOWN");
}

static void test_system_names(void **state)
{
    (void)state;
    assert_string_equal(nd_gai_name(EAI_NONAME), "EAI_NONAME");
    assert_string_equal(nd_gai_name(EAI_AGAIN), "EAI_AGAIN");
    assert_string_equal(nd_gai_name(12345), "EAI_UNKNOWN");
    assert_string_equal(nd_errno_name(ECONNREFUSED), "ECONNREFUSED");
    assert_string_equal(nd_errno_name(0), "E_UNKNOWN");
}

static void test_set_functions(void **state)
{
    (void)state;
    struct nd_error error;
    assert_int_equal(nd_error_set(&error, ND_ERR_RANGE, "value %d too big", 7), ND_ERR_RANGE);
    assert_string_equal(error.message, "value 7 too big");
    assert_int_equal(error.os_error, 0);

    assert_int_equal(nd_error_set_errno(&error, ECONNREFUSED, "connect"), ND_ERR_SYSTEM);
    assert_int_equal(error.os_error, ECONNREFUSED);
    assert_string_equal(error.message, "connect: Connection refused");

    assert_int_equal(nd_error_set_gai(&error, EAI_NONAME, 0, "getaddrinfo"), ND_ERR_RESOLVE);
    assert_int_equal(error.gai_error, EAI_NONAME);
    assert_string_equal(error.message, "getaddrinfo: Name or service not known");

    assert_int_equal(nd_error_set_gai(&error, EAI_SYSTEM, EMFILE, "getaddrinfo"), ND_ERR_RESOLVE);
    assert_int_equal(error.os_error, EMFILE);

    /* A NULL error is allowed: the caller wants the code only. */
    assert_int_equal(nd_error_set(NULL, ND_ERR_BUSY, "x"), ND_ERR_BUSY);
    assert_int_equal(nd_error_set_errno(NULL, EINVAL, "x"), ND_ERR_SYSTEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_name_and_message),
        cmocka_unit_test(test_system_names),
        cmocka_unit_test(test_set_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
