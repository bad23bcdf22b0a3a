/* playground.c - the 2-D classification sets of TensorFlow Playground,
 * after its dataset.ts (playground.tensorflow.org), label -1 -> class 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

#define PI 3.14159265358979323846

/* Writes one point of intended class cls (0 or 1) into p[0..1] and returns
 * its label; i counts points of that class, half is how many there are. */
typedef int32_t (*gen_point)(gg_rng *r, double noise, int cls, size_t i,
                             size_t half, float *p);

static double uniform(gg_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * gg_rng_uniform(r);
}

static int32_t gen_circle(gg_rng *r, double noise, int cls, size_t i,
                          size_t half, float *p)
{
    (void)i, (void)half;
    const double radius = 5;
    double rad = cls ? uniform(r, 0, radius * 0.5)
                     : uniform(r, radius * 0.7, radius);
    double angle = uniform(r, 0, 2 * PI);
    double x = rad * sin(angle), y = rad * cos(angle);
    double nx = x + uniform(r, -radius, radius) * noise;
    double ny = y + uniform(r, -radius, radius) * noise;
    p[0] = (float)x;
    p[1] = (float)y;
    return hypot(nx, ny) < radius * 0.5;
}

static int32_t gen_xor(gg_rng *r, double noise, int cls, size_t i,
                       size_t half, float *p)
{
    (void)cls, (void)i, (void)half;
    const double padding = 0.3;
    double x = uniform(r, -5, 5), y = uniform(r, -5, 5);
    x += x > 0 ? padding : -padding;
    y += y > 0 ? padding : -padding;
    double nx = x + uniform(r, -5, 5) * noise;
    double ny = y + uniform(r, -5, 5) * noise;
    p[0] = (float)x;
    p[1] = (float)y;
    return nx * ny >= 0;
}

static int32_t gen_gauss(gg_rng *r, double noise, int cls, size_t i,
                         size_t half, float *p)
{
    (void)i, (void)half;
    /* The playground maps noise 0..0.5 linearly onto variance 0.5..4. */
    double sd = sqrt(0.5 + 7 * noise), c = cls ? 2 : -2;
    p[0] = (float)(c + sd * gg_rng_normal(r));
    p[1] = (float)(c + sd * gg_rng_normal(r));
    return cls;
}

static int32_t gen_spiral(gg_rng *r, double noise, int cls, size_t i,
                          size_t half, float *p)
{
    double frac = (double)i / (double)half;
    double rad = frac * 5, t = 1.75 * frac * 2 * PI + (cls ? 0 : PI);
    p[0] = (float)(rad * sin(t) + uniform(r, -1, 1) * noise);
    p[1] = (float)(rad * cos(t) + uniform(r, -1, 1) * noise);
    return cls;
}

static const struct {
    const char *name;
    gen_point gen;
} generators[] = {
    {"circle", gen_circle},
    {"xor", gen_xor},
    {"gauss", gen_gauss},
    {"spiral", gen_spiral},
};
#define NGEN (sizeof generators / sizeof generators[0])

static int unknown_name(const char *name, char *err)
{
    char list[64] = "";
    for (size_t i = 0; i < NGEN; i++) {
        strcat(list, i ? ", " : "");
        strcat(list, generators[i].name);
    }
    return ggb_errorf(err, "gg_playground: unknown data set \"%.40s\" "
                        "(valid: %s)", name ? name : "(null)", list);
}

/* Generates class 1 then class 0 (as the playground does), writing point k
 * at the shuffled position perm[k]. */
static void generate(gen_point gen, gg_rng *r, double noise,
                     const uint32_t *perm, gg_dataset *d)
{
    size_t half1 = d->n - d->n / 2, k = 0;
    for (int cls = 1; cls >= 0; cls--) {
        size_t half = cls ? half1 : d->n / 2;
        for (size_t i = 0; i < half; i++, k++)
            d->y[perm[k]] = gen(r, noise, cls, i, half, d->x + 2 * (size_t)perm[k]);
    }
}

int gg_playground(const char *name, size_t n, double noise, uint64_t seed,
                  gg_dataset *out, char *err)
{
    memset(out, 0, sizeof *out);
    size_t g = 0;
    while (g < NGEN && !(name && strcmp(name, generators[g].name) == 0))
        g++;
    if (g == NGEN)
        return unknown_name(name, err);
    if (n < 2 || n > UINT32_MAX)
        return ggb_errorf(err, "gg_playground: n = %zu is not in [2, 2^32-1]", n);
    if (!(noise >= 0 && noise <= 1))
        return ggb_errorf(err, "gg_playground: noise %g is not in [0, 1]", noise);
    uint32_t *perm = ggd_identity_perm(n);
    if (!perm || ggd_dataset_alloc(out, n, 2, 2, false)) {
        ggb_free(perm);
        return ggb_errorf(err, "gg_playground: out of memory for %zu points", n);
    }
    gg_rng r;
    gg_rng_seed(&r, seed);
    gg_rng_shuffle(&r, perm, n);
    generate(generators[g].gen, &r, noise, perm, out);
    ggb_free(perm);
    return 0;
}
