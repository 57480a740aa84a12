"""The command line asks glibc to keep large freed blocks (aecodec/allocator.py)."""

import platform

import pytest

from aecodec.allocator import reuse_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_glibc_takes_the_thresholds():
    assert reuse_freed_memory() is True
