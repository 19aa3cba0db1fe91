/* neurodyn: neurodynamical systems in C.  Include this one header. */
#ifndef NEURODYN_H
#define NEURODYN_H

#include "neurodyn/core.h"
#include "neurodyn/arena.h"
#include "neurodyn/tensor.h"
#include "neurodyn/rng.h"
#include "neurodyn/train.h"
#include "neurodyn/checkpoint.h"
#include "neurodyn/io.h"
#include "neurodyn/tensorfile.h"
#include "neurodyn/provenance.h"
#include "neurodyn/data.h"
#include "neurodyn/kernels.h"
#include "neurodyn/autodiff.h"
#include "neurodyn/optim.h"
#include "neurodyn/credit.h"
#include "neurodyn/mlp.h"
#include "neurodyn/dynamics.h"
#include "neurodyn/plasticity.h"
#include "neurodyn/krotov.h"
#include "neurodyn/snn.h"
#include "neurodyn/accel.h"
#include "neurodyn/lca.h"
#include "neurodyn/distributed.h"
#include "neurodyn/reservoir.h"
#include "neurodyn/circuits.h"
#include "neurodyn/rnn.h"
#include "neurodyn/deq.h"
#include "neurodyn/node.h"
#include "neurodyn/cordsnet.h"

#endif
