/* kernels/cpu.c - CPU feature detection and denormal control. */
#include "kernels/kernels.h"


#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GG_X86 1
#else
#define GG_X86 0
#endif

int ggk_cpu_has_avx512(void)
{
#if GG_X86 && (defined(__GNUC__) || defined(__clang__))
    /* __builtin_cpu_supports also checks that the OS saves the zmm state. */
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int ggk_cpu_has_avx2_fma(void)
{
#if GG_X86 && (defined(__GNUC__) || defined(__clang__))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int ggk_cpu_simd_built(void)
{
#ifdef GG_SIMD_X86
    return 1;
#else
    return 0;
#endif
}

void ggk_set_flush_denormals(int on)
{
#if GG_X86
    /* FTZ is bit 15, DAZ bit 6 of MXCSR. */
    unsigned bits = 0x8000u | 0x0040u;
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | bits) : (csr & ~bits));
#else
    (void)on;
#endif
}

unsigned ggk_fp_mode_get(void)
{
#if GG_X86
    return _mm_getcsr();
#else
    return 0;
#endif
}

void ggk_fp_mode_set(unsigned mode)
{
#if GG_X86
    if (_mm_getcsr() != mode)
        _mm_setcsr(mode);
#else
    (void)mode;
#endif
}
