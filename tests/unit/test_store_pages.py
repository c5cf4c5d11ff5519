"""Huge pages for large receive buffers: asked for where the kernel offers them, else nothing."""

from __future__ import annotations

import ctypes
import io
import sys
from pathlib import Path

import pytest

from samdops.store import _pages
from samdops.store._pages import HUGE_PAGE, OWN_MAPPING, advise_huge_pages


def _vm_flags(address: int) -> list[str]:
    """The VmFlags of the mapping of this process that holds ``address``."""
    holds = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and ":" not in head[0]:
            low, high = (int(part, 16) for part in head[0].split("-"))
            holds = low <= address < high
        elif holds and head[0] == "VmFlags:":
            return head[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


def _huge_pages_offered() -> bool:
    setting = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return sys.platform == "linux" and setting.exists() and "[never]" not in setting.read_text()


@pytest.mark.skipif(not _huge_pages_offered(), reason="needs Linux with transparent huge pages")
def test_a_large_buffer_is_backed_by_huge_pages_and_keeps_what_is_written() -> None:
    size = 20 * HUGE_PAGE + 12345
    buffer = io.BytesIO(bytes(size))
    with buffer.getbuffer() as view:
        address = ctypes.addressof(ctypes.c_char.from_buffer(view))
        assert advise_huge_pages(view) is True
        view[-5:] = b"tail!"
        view[:5] = b"head!"
    interior = -(-address // HUGE_PAGE) * HUGE_PAGE
    assert "hg" in _vm_flags(interior)
    data = buffer.getvalue()
    assert len(data) == size and data[:5] == b"head!" and data[-5:] == b"tail!"
    assert data[5:-5] == bytes(size - 10)


def test_small_or_read_only_buffers_are_left_alone() -> None:
    assert advise_huge_pages(memoryview(bytearray(OWN_MAPPING - 1))) is False
    assert advise_huge_pages(memoryview(bytes(OWN_MAPPING))) is False


def test_without_madvise_nothing_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pages, "_madvise", None)
    assert advise_huge_pages(memoryview(bytearray(OWN_MAPPING))) is False
