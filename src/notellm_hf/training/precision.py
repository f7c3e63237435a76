"""Which precision to train in: bf16 autocast only where the hardware computes bf16 natively.

Measured on this project's machines (SmolLM2-135M, 32 notes x 113 tokens): on an Intel Xeon with AMX and
avx512_bf16 a bf16 forward took 1.54 s vs 5.90 s in fp32 (forward + backward 6.98 s vs 15.03 s); on an AMD EPYC
without avx512_bf16 bf16 was more than 10x slower than fp32. So the choice is detected, never hard-coded.
"""

from __future__ import annotations

import torch


def cpu_has_native_bf16() -> bool:
    """AMX tiles or avx512_bf16: the CPU multiplies bf16 matrices in hardware."""
    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def native_bf16(use_cpu: bool) -> bool:
    """bf16 on the device a run trains on: a CUDA GPU that supports it, else the CPU's own capability."""
    if not use_cpu and torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()
