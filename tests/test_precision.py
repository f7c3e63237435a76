import pytest
import torch

from notellm_hf import Note, precision
from notellm_hf.precision import inference_autocast, resolve_precision

from conftest import TOY_NOTES, make_model


@pytest.mark.parametrize("native", [True, False])
def test_auto_takes_bf16_only_where_the_cpu_computes_it(monkeypatch, native):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    assert resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"


def test_an_unknown_precision_is_a_named_error():
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp16", "cpu")


@pytest.mark.parametrize(("precision", "dtype"), [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_matrix_products_run_in_the_chosen_precision(precision, dtype):
    a = torch.randn(4, 8)
    with inference_autocast(precision, "cpu") as resolved:
        assert resolved == precision
        assert (a @ a.T).dtype == dtype
    assert (a @ a.T).dtype == torch.float32  # nothing leaks out of the block


def test_bf16_embeddings_stay_close_to_fp32_and_come_back_as_fp32():
    model, tokenizer = make_model("llama")
    notes = [Note.from_any(n) for n in TOY_NOTES]
    exact = model.encode_notes(tokenizer, notes)
    with inference_autocast("bf16", "cpu"):
        fast = model.encode_notes(tokenizer, notes)
    assert fast.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: rows differ, but every one points the same way (both are L2-normalised).
    assert not torch.equal(fast, exact)
    assert torch.nn.functional.cosine_similarity(fast, exact).min() > 0.98


@pytest.mark.parametrize("durations", [[9.0, 2.0], [2.0, 9.0]], ids=["slowed first", "slowed second"])
def test_the_price_is_the_fastest_of_the_timings(monkeypatch, durations):
    # A run that a burst of other work slowed (9 s) against an undisturbed one (2 s): the price is the 2 s, whichever
    # comes first.
    now, pending = [0.0], list(durations)
    monkeypatch.setattr(precision.time, "perf_counter", lambda: now[0])

    def run():
        now[0] += pending.pop(0)

    assert precision.fastest_seconds(run) == 2.0
    assert not pending  # both timings ran
