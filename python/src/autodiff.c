#include "nd_py.h"
PyMethodDef nd_py_autodiff_methods[] = {{NULL, NULL, 0, NULL}};
