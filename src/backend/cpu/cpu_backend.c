/* The CPU backend's function table: every slot filled. */
#include "backend/backend_impl.h"
#include "backend/cpu/cpu.h"

#define ND__CPU(name) .name = nd__cpu_##name
const nd__backend nd__cpu_backend = {
    .name = "cpu",
    ND__CPU(sgemm), ND__CPU(dgemm), ND__CPU(conv2d_workspace_floats), ND__CPU(conv2d_forward),
    ND__CPU(conv2d_backward_data), ND__CPU(conv2d_backward_filter), ND__CPU(conv_transpose2d_forward),
    ND__CPU(avgpool2d_forward), ND__CPU(avgpool2d_backward), ND__CPU(adaptive_avgpool2d_forward),
    ND__CPU(adaptive_avgpool2d_backward), ND__CPU(unary), ND__CPU(unary_backward), ND__CPU(prelu_forward),
    ND__CPU(prelu_backward), ND__CPU(add), ND__CPU(sub), ND__CPU(mul), ND__CPU(div), ND__CPU(axpy), ND__CPU(scale),
    ND__CPU(add_channel_bias), ND__CPU(channel_sum), ND__CPU(sum), ND__CPU(dot), ND__CPU(max_abs), ND__CPU(row_sum),
    ND__CPU(row_mean), ND__CPU(row_max), ND__CPU(row_argmax), ND__CPU(row_topk), ND__CPU(softmax),
    ND__CPU(log_softmax), ND__CPU(softmax_backward), ND__CPU(log_softmax_backward), ND__CPU(cross_entropy),
};
