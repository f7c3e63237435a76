"""Which precision to compute in: bf16 only where the hardware computes bf16 natively.

Measured on this project's machines (SmolLM2-135M, 32 notes x 113 tokens): on an Intel Xeon with AMX and
avx512_bf16 a bf16 forward took 1.54 s vs 5.90 s in fp32 (forward + backward 6.98 s vs 15.03 s); on an AMD EPYC
with avx512_bf16 but no AMX 2.63 s vs 5.28 s (forward + backward of the decoder 8.85 s vs 13.79 s;
benchmarks/precision_probe.py); on an AMD EPYC without avx512_bf16 bf16 was more than 10x slower than fp32. So the
choice is detected, never hard-coded: training takes it through `auto_bf16`, encoding and evaluation through a
``precision`` of [`PRECISIONS`]. [`fastest_seconds`] is how such costs are timed on a shared host (the demo's
encoding clock, benchmarks/precision_probe.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch

#: "auto": bf16 autocast where the device computes bf16 natively, fp32 elsewhere.
PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_native_bf16() -> bool:
    """AMX tiles or avx512_bf16: the CPU multiplies bf16 matrices in hardware."""
    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def native_bf16(use_cpu: bool) -> bool:
    """bf16 on the device a run computes on: a CUDA GPU that supports it, else the CPU's own capability."""
    if not use_cpu and torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """ "fp32" or "bf16" for a ``precision`` of [`PRECISIONS`] on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(use_cpu=torch.device(device).type != "cuda") else "fp32"


@contextlib.contextmanager
def inference_autocast(precision: str, device: str | torch.device) -> Iterator[str]:
    """Runs the block under bf16 autocast when ``precision`` resolves to bf16 (matrix products in bf16, norms and
    softmax in fp32, as in training), plainly otherwise; yields the resolved precision."""
    resolved = resolve_precision(precision, device)
    device_type = torch.device(device).type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=resolved == "bf16"):
        yield resolved


def fastest_seconds(run: Callable[[], Any], repeats: int = 2) -> float:
    """The shortest of ``repeats`` timings of ``run()``: a burst of other work on the host slows one timing rather
    than all of them, so the minimum is the machine's own price (the demo halves its pool on the price it gets, and a
    pass priced 2.3x too high did once: benchmarks/RESULTS.md, session 39)."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return min(timings)
