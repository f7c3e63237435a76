"""Hub export: one folder that loads as a transformers AutoModel and as a SentenceTransformer.

An export holds safetensors weights, the tokenizer, every remote-code file of ``models/notellm``
(``configuration_notellm.py``, ``modeling_notellm.py``, ``processing_notellm.py``, ``sentence_notellm.py``),
the Sentence-Transformers files (``modules.json``, ``config_sentence_transformers.json``) and a ``README.md``
model card. Nothing in it is loaded with pickle.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import transformers
from peft import PeftModel
from transformers import AutoTokenizer

from ..data.io import atomic_path
from ..models import notellm as remote_code
from ..models.notellm.modeling_notellm import NoteLLMForEmbeddingAndGeneration
from .model_card import model_card

SENTENCE_CLASS = "sentence_notellm.NoteLLMSentenceEmbedding"
# What `push_to_hub` checks for: the files that make a folder an export.
EXPORT_FILES = ("config.json", "modules.json", "config_sentence_transformers.json", "README.md")


def read_json(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_for_export(source: Path, base_model: str | None) -> tuple[Any, Any, str | None]:
    """(merged NoteLLM model, tokenizer, base model id) from a trained folder or a LoRA adapter folder."""
    if (source / "adapter_config.json").exists():
        base = base_model or read_json(source / "adapter_config.json").get("base_model_name_or_path")
        try:
            model = NoteLLMForEmbeddingAndGeneration.from_pretrained(base)
        except (OSError, ValueError) as error:
            raise ValueError(f"{source}: the adapter's base model {base!r} cannot be loaded: {error}") from error
        model = PeftModel.from_pretrained(model, str(source)).merge_and_unload()
        tokenizer_source = source if (source / "tokenizer_config.json").exists() else Path(str(base))
    elif (source / "config.json").exists():
        if read_json(source / "config.json").get("model_type") != "notellm":
            raise ValueError(f"{source} is not a NoteLLM model folder (config.json model_type is not 'notellm')")
        model = NoteLLMForEmbeddingAndGeneration.from_pretrained(str(source))
        base, tokenizer_source = None, source
    else:
        raise ValueError(f"{source} is not a NoteLLM model or adapter folder (no config.json / adapter_config.json)")
    if not model.lexical_block_fitted:
        remedy = (
            "a LoRA adapter does not carry them: export the training run's merged model folder instead"
            if base is not None
            else "fit it first (notellm_hf.training.fit_lexical_block on the training notes)"
        )
        raise ValueError(
            f"{source}: the model's lexical block is not fitted (lexical_block_weight > 0, its buffers are zeros); "
            f"{remedy}"
        )
    if not (Path(tokenizer_source) / "tokenizer_config.json").exists():
        raise ValueError(f"{source}: no tokenizer found (tokenizer_config.json is missing)")
    return model, AutoTokenizer.from_pretrained(str(tokenizer_source)), base


def copy_remote_code(folder: Path) -> None:
    """Every file of ``models/notellm`` but its package ``__init__``: the export runs without this package."""
    for source in Path(remote_code.__file__).parent.glob("*.py"):
        if source.name != "__init__.py":
            shutil.copy(source, folder / source.name)


def write_sentence_transformers_files(folder: Path) -> None:
    """modules.json + config (the input module's file comes with the remote code): the folder then loads with
    ``SentenceTransformer``."""
    import sentence_transformers  # the `st` extra: only its version is recorded here

    modules = [{"idx": 0, "name": "0", "path": "", "type": SENTENCE_CLASS}]
    (folder / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (folder / "sentence_notellm_config.json").write_text("{}\n")
    config = {
        "model_type": "SentenceTransformer",
        "__version__": {
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
        },
        # NoteLLM is symmetric (item-to-item): query and document prompts are empty, so code written for
        # asymmetric models (encode_query / encode_document, prompt_name="query") works unchanged.
        "prompts": {"query": "", "document": ""},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    (folder / "config_sentence_transformers.json").write_text(json.dumps(config, indent=2) + "\n")


def export_model(
    source: str | Path,
    out_dir: str | Path,
    *,
    adapter_only: bool = False,
    base_model: str | None = None,
    model_id: str | None = None,
    training_config: dict[str, Any] | str | Path | None = None,
    evaluation: dict[str, Any] | str | Path | None = None,
    datasets: list[str] | None = None,
) -> Path:
    """Writes one loadable folder from a trained NoteLLM folder or a LoRA adapter (merged unless ``adapter_only``).

    ``base_model`` overrides the adapter's recorded base (a local path at training time; publish with the
    base's Hub id). ``evaluation`` (a ``results.json`` of `evaluate_benchmark`) and ``training_config`` are
    dicts or JSON files. Everything is written to a temporary folder and renamed, so a failure writes nothing.
    """
    source, card_facts = export_inputs(source, model_id, training_config, evaluation, datasets)
    with atomic_path(out_dir) as partial:
        _write_export(source, partial, adapter_only, base_model, card_facts)
    return Path(out_dir)


def export_inputs(
    source: str | Path,
    model_id: str | None,
    training_config: dict[str, Any] | str | Path | None,
    evaluation: dict[str, Any] | str | Path | None,
    datasets: list[str] | None,
) -> tuple[Path, dict[str, Any]]:
    """The source folder, checked, and the model card's facts (JSON files read) of either export format."""
    source = Path(source)
    if not source.is_dir():
        raise ValueError(f"{source} is not a folder")
    if isinstance(evaluation, (str, Path)):
        evaluation = read_json(evaluation)
    if isinstance(training_config, (str, Path)):
        training_config = read_json(training_config)
    facts = {"model_id": model_id, "training_config": training_config, "evaluation": evaluation, "datasets": datasets}
    return source, facts


def _write_export(
    source: Path, partial: Path, adapter_only: bool, base_model: str | None, card_facts: dict[str, Any]
) -> None:
    if adapter_only:
        if not (source / "adapter_config.json").exists():
            raise ValueError(f"{source} is not a LoRA adapter folder (no adapter_config.json)")
        partial.mkdir(parents=True)
        for name in ("adapter_model.safetensors", "adapter_config.json"):
            shutil.copy(source / name, partial / name)
        adapter_config = read_json(partial / "adapter_config.json")
        if base_model:
            adapter_config["base_model_name_or_path"] = base_model
        (partial / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2) + "\n")
    else:
        model, tokenizer, base = load_for_export(source, base_model)
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        copy_remote_code(partial)
        write_sentence_transformers_files(partial)
        model_card(model.config, base_model=base_model or base, **card_facts).save(partial / "README.md")
