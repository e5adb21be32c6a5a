"""Pure computation: Numba kernels, their plain-Python references, and the drivers.

Nothing here imports from ``imuwalk.sources``, ``imuwalk.sinks`` or ``imuwalk.cli``.
"""
