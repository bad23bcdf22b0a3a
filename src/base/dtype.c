/* dtype.c - the names and sizes of the element types (gategrad/base.h). */
#include "gategrad/base.h"

size_t gg_dtype_size(gg_dtype dtype)
{
    switch (dtype) {
    case GG_F32: return 4;
    case GG_F64: return 8;
    }
    return 0;
}

const char *gg_dtype_name(gg_dtype dtype)
{
    switch (dtype) {
    case GG_F32: return "f32";
    case GG_F64: return "f64";
    }
    return "?";
}
