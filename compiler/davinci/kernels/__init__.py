"""DaVinci kernel generators; importing this package registers their lowering rules."""

from compiler.davinci.kernels import matmul  # noqa: E402, F401
from compiler.davinci.kernels import elementwise  # noqa: E402, F401
from compiler.davinci.kernels import norm  # noqa: E402, F401
from compiler.davinci.kernels import pooling  # noqa: E402, F401
