import os
import subprocess
import sys
from pathlib import Path

import pytest

from notellm_hf.allocator import DEBIAN_JEMALLOC, preloaded_allocator


def test_the_allocator_is_read_off_the_mapped_libraries(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(
        "7f0a r-xp 00000000 fe:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7f0b r-xp 00000000 fe:01 2 /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.16\n"
    )
    assert preloaded_allocator(maps) == "tcmalloc"
    maps.write_text("7f0a r-xp 00000000 fe:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert preloaded_allocator(maps) == "system malloc"
    assert preloaded_allocator(tmp_path / "missing") == "system malloc"


def _allocator_in_fresh_process(preload: Path | None) -> str:
    env = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    code = "from notellm_hf.allocator import preloaded_allocator; print(preloaded_allocator())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(not DEBIAN_JEMALLOC.exists(), reason=f"{DEBIAN_JEMALLOC} is missing (`make jemalloc` installs it)")
def test_a_preloaded_jemalloc_is_recognised_in_a_real_process():
    assert _allocator_in_fresh_process(DEBIAN_JEMALLOC).strip() == "jemalloc"
    assert _allocator_in_fresh_process(None).strip() == "system malloc"
