"""Keep large freed blocks for reuse (glibc's malloc), as the command line does.

A large photo's layers allocate and free blocks of tens to hundreds of MB, tile after tile. By
default glibc maps each such block fresh from the kernel, which zeroes every page on first touch,
and unmaps it when freed: for a 24 MP photo a third of the wall time (decompress to BMP 29 s
without, 21-23 s with; bench/memory.py). Raising glibc's thresholds makes freed blocks stay in
the process for the next tile, at the price of keeping the high-water mark (up to a few hundred
MB more at the peak). The command line does it at start; a program using the API can do the
same (this function, or the environment variables MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_). Elsewhere than glibc, nothing happens.
"""

import ctypes

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)


def reuse_freed_memory(limit: int = 512 << 20) -> bool:
    """Ask glibc to serve blocks below `limit` bytes from its heap and to keep up to `limit`
    bytes of freed memory; False where there is no glibc mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, limit)) and bool(mallopt(_M_TRIM_THRESHOLD, limit))
