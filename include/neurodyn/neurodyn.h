/* neurodyn: neurodynamical systems in C.  Include this one header. */
#ifndef NEURODYN_H
#define NEURODYN_H

#include "neurodyn/core.h"
#include "neurodyn/arena.h"
#include "neurodyn/tensor.h"
#include "neurodyn/rng.h"

#endif
