"""Transparent huge pages for large receive buffers (Linux; elsewhere a no-op).

A 100 MB body received into fresh memory takes ~24,000 page faults, which cost more CPU than
copying the bytes (25 ms against 10 ms on the 2-core machine). Backed by 2 MiB pages it takes ~50.
The CPU saved pays for much of hashing the body on a read (measured in ``bench/store.py``).
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from collections.abc import Callable

HUGE_PAGE = 2 << 20  # the transparent huge page size on x86-64 and arm64 with 4 KiB pages
# glibc serves an allocation this large from a mapping of its own, unmapped when it is freed;
# advice given to a smaller one could stay on heap memory that is reused for other things.
OWN_MAPPING = 32 << 20


def _load_madvise() -> Callable[[int, int, int], int] | None:
    if sys.platform != "linux" or not hasattr(mmap, "MADV_HUGEPAGE"):
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


_madvise = _load_madvise()


def advise_huge_pages(view: memoryview) -> bool:
    """Ask the kernel to back the whole huge pages inside ``view``, a writable buffer not yet
    written to, with transparent huge pages. Returns whether it agreed; a refusal (another OS,
    THP disabled, a buffer under ``OWN_MAPPING``) changes nothing but speed."""
    if _madvise is None or view.readonly or not view.c_contiguous or view.nbytes < OWN_MAPPING:
        return False
    address = ctypes.addressof(ctypes.c_char.from_buffer(view))  # the export ends with the line
    start = -(-address // HUGE_PAGE) * HUGE_PAGE
    end = (address + view.nbytes) // HUGE_PAGE * HUGE_PAGE
    return _madvise(start, end - start, mmap.MADV_HUGEPAGE) == 0
