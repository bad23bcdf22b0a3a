#ifndef GATEGRAD_H
#define GATEGRAD_H
#include "gategrad/base.h"
#include "gategrad/rng.h"
#endif
