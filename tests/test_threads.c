/* test_threads.c - two classifiers trained on two threads at once, each
 * with the threaded matrix products, give exactly the weights a lone run
 * gives (run under ThreadSanitizer in CI to check the threaded paths). */
#include <pthread.h>

#include "testutil.h"

#include "gategrad.h"
#include "gategrad/data.h"
#include "gategrad/nn.h"
#include "gategrad/threads.h"

typedef struct job {
    const gg_dataset *data;
    uint64_t seed;
    float *weights; /* the trained parameters, concatenated */
    size_t count;
    int rc;
    char err[GG_ERRLEN];
} job;

/* Big enough layers that the products are split across the pool. */
static void *train(void *arg)
{
    job *j = arg;
    gg_mlp_spec spec;
    j->rc = -1;
    if (gg_mlp_spec_parse("2-384-384-2:relu", &spec, j->err))
        return NULL;
    gg_classifier *c = gg_classifier_new(&spec, 128, j->seed, j->err);
    gg_fit_config cfg = {.epochs = 1, .opt = gg_opt_defaults(GG_OPT_ADAM), .seed = j->seed};
    if (c && gg_classifier_fit(c, j->data, NULL, &cfg, NULL, NULL, j->err) == 0) {
        size_t n;
        gg_node *const *params = gg_mlp_params(gg_classifier_model(c), &n);
        j->count = 0;
        for (size_t i = 0; i < n; i++)
            j->count += gg_numel(params[i]);
        j->weights = malloc(j->count * sizeof *j->weights);
        for (size_t i = 0, k = 0; j->weights && i < n; k += gg_numel(params[i]), i++)
            memcpy(j->weights + k, gg_data(params[i]), gg_numel(params[i]) * sizeof(float));
        j->rc = j->weights ? 0 : -1;
    }
    gg_classifier_free(c);
    return NULL;
}

static void two_trainings_at_once(void **state)
{
    (void)state;
    gg_dataset d;
    char err[GG_ERRLEN];
    assert_int_equal(gg_playground("spiral", 512, 0.1, 7, &d, err), 0);
    assert_int_equal(gg_set_num_threads(2), 0);

    job alone[2] = {{.data = &d, .seed = 1}, {.data = &d, .seed = 2}};
    for (int i = 0; i < 2; i++) {
        train(&alone[i]);
        assert_int_equal(alone[i].rc, 0);
    }
    job together[2] = {{.data = &d, .seed = 1}, {.data = &d, .seed = 2}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, train, &together[i]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        if (together[i].rc)
            fail_msg("thread %d: %s", i, together[i].err);
        assert_int_equal(together[i].count, alone[i].count);
        assert_memory_equal(together[i].weights, alone[i].weights, alone[i].count * sizeof(float));
    }
    assert_true(memcmp(alone[0].weights, alone[1].weights, alone[0].count * sizeof(float)) != 0);
    for (int i = 0; i < 2; i++) {
        free(alone[i].weights);
        free(together[i].weights);
    }
    gg_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_trainings_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
