"""The frozen bottom of partial fine-tuning in int8: a training-only copy that computes its outputs faster.

Below the trainable layers nothing needs gradients, so the frozen layers' forward may run in any inference
precision the top layers can learn on. On a CPU without native bf16 that forward is about half of a training step
(22 frozen layers of SmolLM2 against the backward of the top 8), and dynamic int8 (weights per output channel,
activations per batch; PyTorch's fbgemm kernels) computes it 1.8x faster than fp32 in a training step (a step ~1.15x;
no faster than bf16 autocast on an avx512_bf16 CPU; benchmarks/RESULTS.md, session 41). Plain int8 flattens the few
outlier channels SmolLM2's activations concentrate in (read-out cosine to fp32 0.91 at layer 22 on real notes), so
the copy is smoothed first (SmoothQuant, the same step as the int8 ONNX file: 0.994), calibrated on the first batch
it computes.

Only training uses the copy: evaluation, generation, export and serving run the model's own float layers, which the
copy approximates (the top layers learn on states within ~0.5% of the float ones).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from ..hub.smooth_quant import smooth_activation_outliers

# The MLP down projections read the largest activation outliers (~500x the RMS in SmolLM2), more than smoothing evens
# out; the int8 ONNX file keeps them in float for that reason (src/notellm_hf/hub/onnx_export.py), and so does this.
FLOAT_LINEARS = ("mlp.down_proj",)


def int8_bottom_copy(
    decoder: nn.Module, cut: int, calibration_ids: Sequence[Sequence[int]], pad_token_id: int
) -> nn.Module:
    """A copy of ``decoder`` that stops after layer ``cut - 1`` (no final norm), smoothed on the token ids
    ``calibration_ids`` and with its linear layers but ``FLOAT_LINEARS`` in dynamic int8. ``decoder`` itself is
    left as it was (its layers from ``cut`` on are not even copied)."""
    if torch.backends.quantized.engine == "none":
        raise ValueError("int8_frozen_layers needs PyTorch's quantized CPU kernels (fbgemm, x86, or qnnpack)")
    kept = {id(module): module for module in (*decoder.layers[cut:], decoder.norm)}
    bottom = copy.deepcopy(decoder, memo=dict(kept))
    bottom.layers = nn.ModuleList(list(bottom.layers[:cut]))
    bottom.norm = nn.Identity()
    bottom.requires_grad_(False)
    smooth_activation_outliers(bottom, calibration_ids, pad_token_id)
    quantized = {
        name: torch.ao.quantization.per_channel_dynamic_qconfig
        for name, module in bottom.named_modules()
        if isinstance(module, nn.Linear) and not name.endswith(FLOAT_LINEARS)
    }
    return torch.ao.quantization.quantize_dynamic(bottom, quantized, dtype=torch.qint8, inplace=True)


__all__ = ["FLOAT_LINEARS", "int8_bottom_copy"]
