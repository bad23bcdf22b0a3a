/* gategrad/rng.h - the seeded pseudo-random generator behind every random
 * choice gategrad makes (weight initialization, dropout masks, shuffling,
 * synthetic data sets).
 *
 * The generator is xoshiro256** (Blackman & Vigna), its 256-bit state filled
 * from the 64-bit seed by splitmix64. Integer and uniform outputs depend only
 * on the seed, so the same seed gives the same numbers on every machine.
 * Normal deviates use the Box-Muller transform through the C library's log,
 * sqrt and cos; glibc rounds these correctly, so they too repeat across
 * machines that use it. A gg_rng is a plain value: copy it to fork a stream,
 * keep one per thread (it is not shared state). */
#ifndef GATEGRAD_RNG_H
#define GATEGRAD_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "gategrad/base.h"

typedef struct gg_rng {
    uint64_t s[4];
} gg_rng;

/* Seeds r. Every seed, 0 included, gives a valid, distinct stream. */
GG_API void gg_rng_seed(gg_rng *r, uint64_t seed);

/* Next 64 uniformly distributed bits. */
GG_API uint64_t gg_rng_u64(gg_rng *r);

/* Uniform double in [0, 1), 53 random bits. */
GG_API double gg_rng_uniform(gg_rng *r);

/* Uniform integer in [0, n) without modulo bias; n must be > 0 (0 gives 0). */
GG_API uint64_t gg_rng_below(gg_rng *r, uint64_t n);

/* Standard normal deviate (mean 0, variance 1). */
GG_API double gg_rng_normal(gg_rng *r);

/* Shuffles idx[0..n) in place (Fisher-Yates). */
GG_API void gg_rng_shuffle(gg_rng *r, uint32_t *idx, size_t n);

#endif
