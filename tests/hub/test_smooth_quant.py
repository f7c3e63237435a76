import pytest
import torch
from transformers import Gemma3TextConfig, Gemma3TextModel

from notellm_hf.hub import NoteTextRenderer
from notellm_hf.hub.smooth_quant import input_channel_absmax, smooth_activation_outliers
from notellm_hf.models.notellm.modeling_notellm import padded_decoder_states
from notellm_hf.models.notellm.processing_notellm import padded_batch

from conftest import TOY_NOTES, make_model


def calibration(arch: str) -> tuple[torch.nn.Module, list[list[int]], int]:
    model, tokenizer = make_model(arch)
    texts = NoteTextRenderer.from_model(model, tokenizer)(TOY_NOTES)
    return model.language_model.get_decoder().eval(), [tokenizer(t)["input_ids"] for t in texts], tokenizer.pad_token_id


def weight_absmax(*linears: torch.nn.Linear) -> torch.Tensor:
    return torch.stack([linear.weight.abs().amax(dim=0) for linear in linears]).amax(dim=0)


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_smoothing_keeps_the_function_and_balances_each_channel(arch):
    decoder, ids, pad = calibration(arch)
    batch = padded_batch(ids, pad, side="left")
    with torch.no_grad():
        before = padded_decoder_states(decoder, batch["input_ids"], batch["attention_mask"])
    smooth_activation_outliers(decoder, ids, pad, alpha=0.5)
    with torch.no_grad():
        after = padded_decoder_states(decoder, batch["input_ids"], batch["attention_mask"])
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(after[mask], before[mask], atol=1e-4, rtol=1e-4)
    # alpha 0.5 gives every smoothed channel the same range on both sides of the product:
    # max|x_j| / s_j == max|W_j| * s_j == sqrt(max|x_j| * max|W_j|).
    absmax, _ = input_channel_absmax(
        decoder, [padded_batch(ids[i : i + 16], pad, side="left") for i in range(0, len(ids), 16)]
    )
    for i, layer in enumerate(decoder.layers):
        attention, mlp = layer.self_attn, layer.mlp
        for name, linears in (
            ("self_attn.q_proj", (attention.q_proj, attention.k_proj, attention.v_proj)),
            ("mlp.gate_proj", (mlp.gate_proj, mlp.up_proj)),
            ("mlp.down_proj", (mlp.down_proj,)),
        ):
            torch.testing.assert_close(absmax[f"layers.{i}.{name}"], weight_absmax(*linears), rtol=1e-4, atol=1e-6)


def test_smoothing_refuses_what_it_cannot_keep_exact():
    decoder, ids, pad = calibration("llama")
    with pytest.raises(ValueError, match="needs calibration notes"):
        smooth_activation_outliers(decoder, [], pad)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        smooth_activation_outliers(decoder, ids, pad, alpha=1.5)
    with pytest.raises(ValueError, match="lacks"):
        smooth_activation_outliers(torch.nn.Linear(2, 2), ids, pad)
    # Gemma3 has the Llama names but scales by (1 + weight) and norms the attention output: smoothing would change
    # its function, so it is refused and the weights are left as they were.
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=512,
    )  # fmt: skip
    gemma = Gemma3TextModel(config).eval()
    original = {name: value.clone() for name, value in gemma.state_dict().items()}
    with pytest.raises(ValueError, match="changed Gemma3TextModel's output"):
        smooth_activation_outliers(gemma, [[5, 6, 7, 8, 9], [10, 11, 12]], 0)
    for name, value in gemma.state_dict().items():
        torch.testing.assert_close(value, original[name], rtol=0, atol=0)
