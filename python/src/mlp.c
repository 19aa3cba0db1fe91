#include "nd_py.h"
PyMethodDef nd_py_mlp_methods[] = {{NULL, NULL, 0, NULL}};
