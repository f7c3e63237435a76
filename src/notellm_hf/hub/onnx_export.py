"""ONNX files for a stock-module export, and an ONNX Runtime encoder that serves them without torch models.

The graph is the export's Transformer module alone (``input_ids``, ``attention_mask`` -> ``last_hidden_state``), the
layout sentence-transformers' ``backend="onnx"`` reads from ``onnx/model.onnx``; pooling, the Dense head and
Normalize stay outside it. Positions are computed from the mask inside the graph, so left-padded rows embed as
they do alone. ``onnx/model_qint8.onnx`` holds the same graph smoothed (`smooth_activation_outliers`, calibrated on
a few of the user's notes) with its matmul weights quantized to int8 per channel (activations quantized per batch at
run time) except the MLP down projections, the cheap arithmetic a CPU without native bf16 can use.

Why an encoder of our own: sentence-transformers loads ONNX files through optimum-onnx, whose only release (0.1.0)
requires transformers < 4.58, while this package runs on transformers 5. ``OnnxNoteEncoder`` does what that backend
would do with the same files: tokenize, run the graph, take the last real token, apply the Dense weights, normalize.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import AutoModel, AutoTokenizer

from ..data.io import atomic_path
from ..models.notellm.modeling_notellm import NoteLike, padded_decoder_states
from ..models.notellm.processing_notellm import length_sorted_batches, padded_batch
from .note_text import NoteTextRenderer
from .smooth_quant import SMOOTHING_ALPHA, smooth_activation_outliers

ONNX_FILES = {"fp32": "onnx/model.onnx", "int8": "onnx/model_qint8.onnx"}


class _TransformerGraph(torch.nn.Module):
    """The decoder with positions counted over real tokens (what ``encode_notes`` does), for tracing."""

    def __init__(self, decoder: torch.nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return padded_decoder_states(self.decoder, input_ids, attention_mask)


def _require_onnx() -> None:
    missing = [name for name in ("onnx", "onnxruntime", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(f"ONNX export needs {', '.join(missing)}: pip install 'notellm-hf[onnx]'")


def add_onnx_files(
    folder: str | Path, calibration_notes: Iterable[NoteLike], alpha: float = SMOOTHING_ALPHA
) -> dict[str, Path]:
    """Writes ``onnx/model.onnx`` and ``onnx/model_qint8.onnx`` into a stock-module export (all or nothing).

    ``calibration_notes`` (a few dozen of the notes it will embed; 8, 64 and 256 Debian notes gave an int8 min
    cosine to fp32 of 0.9955 / 0.9968 / 0.9961 on 200 dev notes) set the int8 file's smoothing scales."""
    _require_onnx()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = Path(folder)
    if not (folder / "modules.json").exists() or not (folder / "config.json").exists():
        raise ValueError(f"{folder} is not a stock-module export (`notellm export --format sentence-transformers`)")
    renderer = NoteTextRenderer.from_pretrained(folder)
    texts = renderer(calibration_notes)
    if not texts:
        raise ValueError("the int8 ONNX file needs calibration notes (a few dozen of the notes it will embed)")
    tokenizer = renderer.tokenizer  # the export's own tokenizer, loaded once
    # Eager attention: the traced graph then holds plain matmuls and a mask add, which every runtime executes.
    decoder = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    with atomic_path(folder / "onnx") as partial, tempfile.TemporaryDirectory() as staging:
        partial.mkdir()
        fp32 = partial / Path(ONNX_FILES["fp32"]).name
        _export_graph(decoder, fp32)
        smooth_activation_outliers(decoder, [tokenizer(t)["input_ids"] for t in texts], tokenizer.pad_token_id, alpha)
        smoothed = Path(staging) / "smoothed.onnx"
        _export_graph(decoder, smoothed)
        quantize_dynamic(
            str(smoothed),
            str(partial / Path(ONNX_FILES["int8"]).name),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=_mlp_down_projections(smoothed, decoder.config.intermediate_size),
            extra_options={"MatMulConstBOnly": True},  # weights only: attention scores stay in float
        )
    return {kind: folder / name for kind, name in ONNX_FILES.items()}


def _export_graph(decoder: torch.nn.Module, path: Path) -> None:
    example = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4]])
    axes = {0: torch.export.Dim("batch"), 1: torch.export.Dim("sequence")}
    torch.onnx.export(
        _TransformerGraph(decoder).eval(),
        (example, torch.ones_like(example)),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state"],
        dynamic_shapes={"input_ids": axes, "attention_mask": axes},
        dynamo=True,
        external_data=False,
    )


def _mlp_down_projections(path: Path, intermediate_size: int) -> list[str]:
    """The MatMul nodes whose weight reads the MLP's intermediate activations (the MLP down projections).

    Their inputs carry the largest outliers of LLM activations (up to ~500x the RMS in SmolLM2), more than smoothing
    evens out: quantized, they cost the embedding most (a one-off probe, SmolLM2 on 200 Debian dev notes smoothed at
    alpha 0.8: min cosine to fp32 0.954 with them quantized, 0.995 without), so they stay in float.
    """
    import onnx

    graph = onnx.load(str(path)).graph
    rows = {tensor.name: tensor.dims[0] for tensor in graph.initializer if len(tensor.dims) == 2}
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and len(node.input) == 2 and rows.get(node.input[1]) == intermediate_size
    ]


# sentence-transformers' Pooling modes of the stock export (`stock_pooling_mode`), as the encoder computes them.
POOLINGS = ("lasttoken", "mean")


class OnnxNoteEncoder:
    """Embeds rendered note texts with an export's ONNX graph on ONNX Runtime: the stock modules' computation
    (the export's pooling: last token, or the mean for ``readout="mean"``; Dense; Normalize) in NumPy around the
    graph."""

    def __init__(self, folder: str | Path, kind: str = "int8", threads: int | None = None) -> None:
        _require_onnx()
        import onnxruntime

        folder = Path(folder)
        if kind not in ONNX_FILES:
            raise ValueError(f"kind must be one of {sorted(ONNX_FILES)}, got {kind!r}")
        if not (folder / ONNX_FILES[kind]).exists():
            raise ValueError(f"{folder} has no {ONNX_FILES[kind]}: run add_onnx_files (notellm export --onnx) first")
        modules = {module["type"].rsplit(".", 1)[-1]: module for module in _read(folder / "modules.json")}
        self.pooling = _read(folder / modules["Pooling"]["path"] / "config.json")["pooling_mode"]
        if self.pooling not in POOLINGS:
            raise ValueError(f"{folder}: pooling {self.pooling!r} is not one a NoteLLM export writes {POOLINGS}")
        dense = load_file(str(folder / modules["Dense"]["path"] / "model.safetensors"))
        self.head = dense["linear.weight"].T.astype(np.float32)
        # A centred model's running mean, negated (stock_export); zero for the paper's bias-free head.
        self.bias = dense["linear.bias"].astype(np.float32) if "linear.bias" in dense else np.float32(0.0)
        self.normalize = "Normalize" in modules
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(folder / ONNX_FILES[kind]), options)

    def encode(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """(n, d) float32 embeddings of rendered texts, batched by length (little padding), in input order."""
        sequences = [self.tokenizer(text)["input_ids"] for text in texts]
        result = np.empty((len(texts), self.head.shape[1]), dtype=np.float32)
        for index in length_sorted_batches(sequences, batch_size):
            batch = padded_batch([sequences[i] for i in index], self.tokenizer.pad_token_id, side="left")
            feeds = {name: tensor.numpy() for name, tensor in batch.items()}
            hidden = self.session.run(None, feeds)[0]
            if self.pooling == "mean":
                mask = feeds["attention_mask"][:, :, None].astype(np.float32)
                states = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
            else:
                states = hidden[:, -1]  # left padding: every row's last token is its read-out
            embeddings = states @ self.head + self.bias
            if self.normalize:
                embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
            result[index] = embeddings
        return result


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


__all__ = ["ONNX_FILES", "OnnxNoteEncoder", "add_onnx_files"]
