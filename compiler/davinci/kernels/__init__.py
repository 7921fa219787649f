"""DaVinci kernel generators; importing this package registers their lowering rules."""

from compiler.davinci.kernels import (
    batch_norm,  # noqa: E402, F401
    batch_norm_grad,  # noqa: E402, F401
    conv,  # noqa: E402, F401
    conv_grad,  # noqa: E402, F401
    conv_transpose,  # noqa: E402, F401
    elementwise,  # noqa: E402, F401
    gather,  # noqa: E402, F401  (after movement: wraps its rule)
    matmul,  # noqa: E402, F401
    movement,  # noqa: E402, F401
    norm,  # noqa: E402, F401
    one_hot,  # noqa: E402, F401
    pool_grad,  # noqa: E402, F401
    pooling,  # noqa: E402, F401
    reduce,  # noqa: E402, F401
    reshape,  # noqa: E402, F401
    select,  # noqa: E402, F401
)
