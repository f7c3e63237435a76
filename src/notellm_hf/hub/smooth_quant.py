"""SmoothQuant (Xiao et al., 2023) before int8: move the activations' outlier channels into the weights.

Dynamic int8 quantizes each matmul's input with one scale per batch, so the few channels an LLM's activations
concentrate their magnitude in (SmolLM2's reach 30-80x the RMS at the q/k/v and gate/up inputs) set that scale and
flatten every other channel. For a linear layer, dividing input channel ``j`` by ``s_j`` and multiplying the
weight's column ``j`` by ``s_j`` computes the same product; ``s_j = max|x_j| ** alpha / max|W_j| ** (1 - alpha)``
evens the two ranges out, and the weights (quantized per output channel) absorb the outliers easily.

The division is folded into what produces each input, so the smoothed decoder is the same function in float:
the RMSNorm weight before q/k/v and before gate/up, the up projection's rows before the down projection, and the
value projection's rows before the output projection (one scale per value channel, shared by the query heads of
its group). Layers that do not follow this Llama layout (Llama, Mistral, Qwen2, SmolLM2) are refused, and
`smooth_activation_outliers` checks the equality on the calibration batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..models.notellm.modeling_notellm import padded_decoder_states
from ..models.notellm.processing_notellm import padded_batch

# Chosen on the Debian dev split (int8 min cosine to fp32 over 200 notes, 64 calibration notes: alpha 0.5 -> 0.9932,
# 0.8 -> 0.9968, 0.9 -> 0.9949; benchmarks/int8_smoothing.py, RESULTS.md "Encoding faster and serving ...").
SMOOTHING_ALPHA = 0.8
_LAYER_PARTS = (
    "input_layernorm",
    "post_attention_layernorm",
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


@torch.inference_mode()
def input_channel_absmax(
    decoder: nn.Module, batches: Sequence[dict[str, torch.Tensor]]
) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """Per input channel, the largest magnitude every linear layer of ``decoder`` reads over the batches
    (padding positions included: the int8 graph sees them too), and the decoder's states of each batch (the
    reference the smoothed decoder is checked against: one pass serves both)."""
    absmax: dict[str, torch.Tensor] = {}

    def record(name: str):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            channels = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(dim=0).float()
            absmax[name] = torch.maximum(absmax[name], channels) if name in absmax else channels

        return hook

    handles = [
        module.register_forward_hook(record(name))
        for name, module in decoder.named_modules()
        if isinstance(module, nn.Linear)
    ]
    try:
        states = [padded_decoder_states(decoder, batch["input_ids"], batch["attention_mask"]) for batch in batches]
    finally:
        for handle in handles:
            handle.remove()
    return absmax, states


def _scales(input_absmax: torch.Tensor, consumers: Sequence[nn.Linear], alpha: float) -> torch.Tensor:
    weight_absmax = torch.stack([linear.weight.detach().abs().amax(dim=0) for linear in consumers]).amax(dim=0)
    return input_absmax.clamp(min=1e-5) ** alpha / weight_absmax.clamp(min=1e-5) ** (1 - alpha)


def _scale_outputs(linear: nn.Linear, divisor: torch.Tensor) -> None:
    linear.weight.div_(divisor[:, None])
    if linear.bias is not None:
        linear.bias.div_(divisor)


def _check_layout(decoder: nn.Module) -> None:
    layers = getattr(decoder, "layers", None)
    missing = [] if layers is not None else ["layers"]
    for layer in layers or []:
        missing += [part for part in _LAYER_PARTS if not _has(layer, part)]
    if missing:
        raise ValueError(
            f"int8 smoothing needs Llama-style decoder layers ({', '.join(_LAYER_PARTS)}); "
            f"{type(decoder).__name__} lacks {sorted(set(missing))}"
        )


def _has(module: nn.Module, path: str) -> bool:
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return False
    return True


@torch.no_grad()
def smooth_activation_outliers(
    decoder: nn.Module, texts_ids: Sequence[Sequence[int]], pad_token_id: int, alpha: float = SMOOTHING_ALPHA
) -> None:
    """Smooths ``decoder`` in place with per-channel scales calibrated on the token ids ``texts_ids`` (rendered
    notes); raises ValueError, leaving nothing half-smoothed, if its layers are not Llama-style or the smoothed
    decoder's output on the calibration batches differs from the original's."""
    if not texts_ids:
        raise ValueError("int8 smoothing needs calibration notes (a few dozen rendered notes)")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"the smoothing alpha must lie in [0, 1], got {alpha}")
    _check_layout(decoder)
    batches = [padded_batch(texts_ids[i : i + 16], pad_token_id, side="left") for i in range(0, len(texts_ids), 16)]
    absmax, before = input_channel_absmax(decoder, batches)
    original = {name: value.clone() for name, value in decoder.state_dict().items()}
    config = decoder.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv_heads = config.num_key_value_heads
    group = config.num_attention_heads // kv_heads
    prefix = {module: name for name, module in decoder.named_modules()}
    for layer in decoder.layers:
        name = prefix[layer]
        attention, mlp = layer.self_attn, layer.mlp
        # Row scalings first, so the column scales below see the weights that get quantized.
        scales = _scales(absmax[f"{name}.mlp.down_proj"], (mlp.down_proj,), alpha)
        _scale_outputs(mlp.up_proj, scales)
        mlp.down_proj.weight.mul_(scales)
        # The output projection's input channel h * head_dim + d is value channel (h // group) * head_dim + d.
        scales = _scales(absmax[f"{name}.self_attn.o_proj"], (attention.o_proj,), alpha)
        scales = scales.view(kv_heads, group, head_dim).amax(dim=1)
        _scale_outputs(attention.v_proj, scales.reshape(-1))
        attention.o_proj.weight.mul_(scales[:, None, :].expand(-1, group, -1).reshape(-1))
        qkv = (attention.q_proj, attention.k_proj, attention.v_proj)
        scales = _scales(absmax[f"{name}.self_attn.q_proj"], qkv, alpha)
        layer.input_layernorm.weight.div_(scales)
        for linear in qkv:
            linear.weight.mul_(scales)
        scales = _scales(absmax[f"{name}.mlp.gate_proj"], (mlp.gate_proj, mlp.up_proj), alpha)
        layer.post_attention_layernorm.weight.div_(scales)
        for linear in (mlp.gate_proj, mlp.up_proj):
            linear.weight.mul_(scales)
    for batch, expected in zip(batches, before, strict=True):
        after = padded_decoder_states(decoder, batch["input_ids"], batch["attention_mask"])
        mask = batch["attention_mask"].bool()
        error = ((after - expected)[mask].norm(dim=-1) / expected[mask].norm(dim=-1).clamp(min=1e-6)).max()
        if not bool(error <= 1e-3):
            decoder.load_state_dict(original)
            raise ValueError(
                f"int8 smoothing changed {type(decoder).__name__}'s output (relative error {float(error):.2e}): "
                "its norms or projections do not follow the Llama layout"
            )


__all__ = ["SMOOTHING_ALPHA", "input_channel_absmax", "smooth_activation_outliers"]
