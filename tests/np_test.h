/* Shared by the cmocka programs: each test gets an APR pool of its own. */
#ifndef NP_TEST_H
#define NP_TEST_H

#include <apr_pools.h>

static int np_test_pool_setup(void **state)
{
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    *state = p;
    return 0;
}

static int np_test_pool_teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

#endif
