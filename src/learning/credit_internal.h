/* Private helper of the credit-assignment ops (src/learning/). */
#ifndef NEURODYN_CREDIT_INTERNAL_H
#define NEURODYN_CREDIT_INTERNAL_H

#include "neurodyn/credit.h"

/* False (with the error set, sticky on the tape) when tp is NULL, already
 * failed, or one of the n inputs is NULL. */
bool nd__credit_inputs_ok(nd_tape *tp, const char *op, int n, nd_var *const *in);

#endif
