"""DaVinci kernel generators; importing this package registers their lowering rules."""

from compiler.davinci.kernels import (
    conv,  # noqa: E402, F401
    elementwise,  # noqa: E402, F401
    matmul,  # noqa: E402, F401
    norm,  # noqa: E402, F401
    pooling,  # noqa: E402, F401
)
from compiler.davinci.kernels import movement  # noqa: E402, F401
from compiler.davinci.kernels import reduce  # noqa: E402, F401
from compiler.davinci.kernels import batch_norm  # noqa: E402, F401
