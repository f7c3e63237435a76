"""Which malloc serves this process's tensors, recorded with every timing (benchmarks/common.py).

CPU training allocates and frees activation-sized blocks at a high rate, and the allocator shows in the figures:
measured on a 2-core AMX Xeon (benchmarks/allocator_probe.py, RESULTS.md "Memory allocator"), encoding in a process
that had trained ran up to 2.3x slower under glibc's malloc than in a fresh one, and jemalloc with page purging off
trained faster but kept what it freed (23 GiB resident by step 35 of the demo). An allocator has to be preloaded
before the process starts (`LD_PRELOAD`); this module only reports which one is loaded.
"""

from __future__ import annotations

import platform
from pathlib import Path

#: Where Debian's libjemalloc2 puts the library (`make jemalloc` installs it); what a process preloads to use it.
DEBIAN_JEMALLOC = Path(f"/usr/lib/{platform.machine()}-linux-gnu/libjemalloc.so.2")
#: Shared-library name fragments of the allocators a process may have preloaded, checked in this order.
ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")


def preloaded_allocator(maps: Path = Path("/proc/self/maps")) -> str:
    """ "jemalloc", "tcmalloc" or "mimalloc" when that library is mapped into the process, else "system malloc"."""
    try:
        mapped = maps.read_text()
    except OSError:  # not Linux: no map of the loaded libraries to read
        return "system malloc"
    return next((name for name in ALLOCATORS if f"lib{name}" in mapped), "system malloc")
