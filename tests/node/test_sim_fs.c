// The file-system conformance suite (tests/unit/fs_conform.h) against the simulated port's RAM
// file system (tests/node/sim_port.c), so the node tests run on files that behave like the
// real ports'.
#include "fs_conform.h"
#include "sim_port.h"

static sim_t *sim;

static int setup(void **state)
{
    (void)state;
    sim = calloc(1, sizeof *sim);
    assert_non_null(sim);
    sim->port.ops = &sim_ops;
    sim->port.ctx = sim;
    sim_put(sim, "a.txt", "alpha");
    sim_put(sim, "d/b.txt", "bravo!");
    assert_int_equal(sim_ops.fs_mkdir(sim, "d/e"), 0);
    fsc = (fsc_fixture_t){.ops = &sim_ops, .ctx = sim, .max_files = SIM_FDS, .has_mtime = true};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sim_free(sim);
    free(sim);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {FSC_TESTS};
    return cmocka_run_group_tests(tests, setup, teardown);
}
