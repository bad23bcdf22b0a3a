/* kernels/vec.h - plain C loops run at the CPU's widest vectors (internal).
 *
 * GG_VEC marks a function whose loops the compiler should vectorize for
 * AVX-512 as well as for baseline x86-64: both versions are compiled and the
 * dynamic loader picks one by the CPU (GCC/Clang target_clones, an ifunc).
 * The loop is written once, in C. Both versions give the same bits: such
 * loops use only exactly rounded operations lane by lane (no reductions
 * reordered), and ISO C mode keeps a*b+c from being contracted into an FMA.
 * Without the SIMD build (-Dsimd=false) or off x86-64 it is empty. */
#ifndef GG_KERNELS_VEC_H
#define GG_KERNELS_VEC_H

/* ThreadSanitizer instruments the ifunc resolver, which the loader runs
 * before the sanitizer's runtime is up: no clones in a TSan build. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GG_NO_CLONES 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GG_NO_CLONES 1
#endif

#if defined(GG_SIMD_X86) && defined(__has_attribute) && !defined(GG_NO_CLONES)
#if __has_attribute(target_clones)
#define GG_VEC __attribute__((target_clones("avx512f", "default")))
#endif
#endif
#ifndef GG_VEC
#define GG_VEC
#endif

#endif
