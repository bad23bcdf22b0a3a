/* moons_data.h - the data of micrograd's moons demo, which examples/moons.c
 * trains on and bench/moons.c times: scikit-learn's make_moons, the upper
 * half circle (label -1) and a lower one shifted right and down (label +1),
 * with Gaussian noise on each coordinate. */
#ifndef GG_EXAMPLES_MOONS_DATA_H
#define GG_EXAMPLES_MOONS_DATA_H

#include <gategrad.h>
#include <math.h>
#include <stdbool.h>

/* Writes n points into x and their labels into y. */
static inline void make_moons(int n, double x[][2], double y[], double noise, uint64_t seed)
{
    const double pi = 3.14159265358979323846;
    gg_rng r;
    gg_rng_seed(&r, seed);
    int outer = n / 2, inner = n - outer;
    for (int i = 0; i < n; i++) {
        bool up = i < outer;
        double t = pi * (up ? i : i - outer) / ((up ? outer : inner) - 1);
        x[i][0] = up ? cos(t) : 1 - cos(t);
        x[i][1] = up ? sin(t) : 0.5 - sin(t);
        y[i] = up ? -1 : 1;
    }
    for (int i = 0; i < n; i++) {
        x[i][0] += noise * gg_rng_normal(&r);
        x[i][1] += noise * gg_rng_normal(&r);
    }
}

#endif
