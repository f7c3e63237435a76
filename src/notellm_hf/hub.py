"""Hub export: one folder that loads as a transformers AutoModel and as a SentenceTransformer, its model card,
and publishing with the standard ``huggingface_hub`` APIs.

An export holds safetensors weights, the tokenizer, the remote-code files (``configuration_notellm.py``,
``modeling_notellm.py``, ``prompting_notellm.py``, ``sentence_notellm.py``), the Sentence-Transformers
files (``modules.json``, ``config_sentence_transformers.json``) and a ``README.md`` model card. Nothing in
it is loaded with pickle.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id

SENTENCE_MODULE = "sentence_notellm.py"
SENTENCE_CLASS = "sentence_notellm.NoteLLMSentenceEmbedding"
CARD_TEMPLATE = "notellm_template.md"
EXPORT_FILES = ("config.json", "modules.json", "config_sentence_transformers.json", "README.md")


def card_template_path() -> Path:
    """``model_cards/notellm_template.md`` from the source tree, or from an installed wheel's data files."""
    for root in (Path(__file__).resolve().parents[2], Path(sys.prefix) / "share" / "notellm_hf"):
        candidate = root / "model_cards" / CARD_TEMPLATE
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"model card template {CARD_TEMPLATE} not found")


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _load_for_export(source: Path, base_model: str | None) -> tuple[Any, Any, str | None]:
    """(merged NoteLLM model, tokenizer, base model id) from a trained folder or a LoRA adapter folder."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    from .modeling_notellm import NoteLLMForEmbeddingAndGeneration

    if (source / "adapter_config.json").exists():
        base = base_model or _read_json(source / "adapter_config.json").get("base_model_name_or_path")
        try:
            model = NoteLLMForEmbeddingAndGeneration.from_pretrained(base)
        except (OSError, ValueError) as error:
            raise ValueError(f"{source}: the adapter's base model {base!r} cannot be loaded: {error}") from error
        model = PeftModel.from_pretrained(model, str(source)).merge_and_unload()
        tokenizer_source = source if (source / "tokenizer_config.json").exists() else Path(str(base))
    elif (source / "config.json").exists():
        if _read_json(source / "config.json").get("model_type") != "notellm":
            raise ValueError(f"{source} is not a NoteLLM model folder (config.json model_type is not 'notellm')")
        model = NoteLLMForEmbeddingAndGeneration.from_pretrained(str(source))
        base, tokenizer_source = None, source
    else:
        raise ValueError(f"{source} is not a NoteLLM model or adapter folder (no config.json / adapter_config.json)")
    if not (Path(tokenizer_source) / "tokenizer_config.json").exists():
        raise ValueError(f"{source}: no tokenizer found (tokenizer_config.json is missing)")
    return model, AutoTokenizer.from_pretrained(str(tokenizer_source)), base


def write_sentence_transformers_files(folder: Path) -> None:
    """modules.json + config + the input-module file: the folder then loads with ``SentenceTransformer``."""
    import sentence_transformers
    import transformers

    shutil.copy(Path(__file__).with_name(SENTENCE_MODULE), folder / SENTENCE_MODULE)
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


def model_card(
    model_config: Any,
    model_id: str | None = None,
    base_model: str | None = None,
    datasets: list[str] | None = None,
    license: str = "apache-2.0",
    training_config: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
    evaluated_model: str = "NoteLLM",
) -> ModelCard:
    """Renders ``model_cards/notellm_template.md``; every figure comes from ``evaluation`` (a results.json)."""
    from .evaluation import SCALED_LABELS
    from .report import markdown_table

    eval_results, table, dataset_name = [], None, None
    if evaluation is not None:
        results = evaluation["results"]
        if evaluated_model not in results:
            raise ValueError(f"evaluation has no row {evaluated_model!r} (rows: {list(results)})")
        retrieval = results[evaluated_model]["retrieval"]
        dataset_name = Path(evaluation["meta"]["data"]).name
        for label in (*SCALED_LABELS, "avg"):
            value = retrieval["avg"] if label == "avg" else retrieval["recall"][label]
            eval_results.append(
                EvalResult(
                    task_type="sentence-similarity",
                    task_name="Item-to-item note retrieval",
                    dataset_type=dataset_name,
                    dataset_name=dataset_name,
                    dataset_split="test",
                    metric_type="recall",
                    metric_name=f"Recall {label} (pool-scaled)",
                    metric_value=round(value, 2),
                )
            )
        table = markdown_table(results)
    card_data = ModelCardData(
        model_name=model_id or "NoteLLM",
        base_model=base_model,
        datasets=datasets,
        license=license,
        library_name="transformers",
        pipeline_tag="feature-extraction",
        tags=["notellm", "sentence-transformers", "feature-extraction", "custom_code", "recommendation"],
        eval_results=eval_results or None,
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(card_template_path()),
        model_id=model_id or "path/to/export",
        embedding_dim=model_config.embedding_dim,
        readout=model_config.readout,
        backbone=model_config.text_config.model_type,
        training_config=json.dumps(training_config, indent=2) if training_config else None,
        evaluation_table=table,
        dataset_name=dataset_name,
    )


def export_model(
    source: str | Path,
    out_dir: str | Path,
    *,
    adapter_only: bool = False,
    base_model: str | None = None,
    model_id: str | None = None,
    training_config: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
    datasets: list[str] | None = None,
) -> Path:
    """Writes one loadable folder from a trained NoteLLM folder or a LoRA adapter (merged unless ``adapter_only``).

    ``base_model`` overrides the adapter's recorded base (a local path at training time; publish with the
    base's Hub id). Everything is written to ``<out_dir>.partial`` and renamed, so a failure writes nothing.
    """
    source, out_dir = Path(source), Path(out_dir)
    if not source.is_dir():
        raise ValueError(f"{source} is not a folder")
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    if adapter_only:
        if not (source / "adapter_config.json").exists():
            raise ValueError(f"{source} is not a LoRA adapter folder (no adapter_config.json)")
        partial.mkdir(parents=True)
        for name in ("adapter_model.safetensors", "adapter_config.json"):
            shutil.copy(source / name, partial / name)
        adapter_config = _read_json(partial / "adapter_config.json")
        if base_model:
            adapter_config["base_model_name_or_path"] = base_model
        (partial / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2) + "\n")
    else:
        model, tokenizer, base = _load_for_export(source, base_model)
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        write_sentence_transformers_files(partial)
        card = model_card(
            model.config,
            model_id=model_id,
            base_model=base_model or base,
            datasets=datasets,
            training_config=training_config,
            evaluation=evaluation,
        )
        card.save(partial / "README.md")
    shutil.rmtree(out_dir, ignore_errors=True)
    partial.rename(out_dir)
    return out_dir


def push_to_hub(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str = "Upload NoteLLM",
    api: HfApi | None = None,
) -> str:
    """Publishes an exported folder: creates the repo (idempotent), uploads the card first, then the rest."""
    folder = Path(folder)
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(f"invalid repo id {repo_id!r}: {error}") from error
    if "/" not in repo_id:
        raise ValueError(f"invalid repo id {repo_id!r}: use 'organisation/name'")
    missing = [name for name in EXPORT_FILES if not (folder / name).exists()]
    if missing:
        raise ValueError(f"{folder} is not a NoteLLM export (missing {missing}); run `notellm export` first")
    api = api or HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    api.upload_file(
        path_or_fileobj=str(folder / "README.md"),
        path_in_repo="README.md",
        repo_id=repo_id,
        revision=revision,
        commit_message=f"{commit_message}: model card",
    )
    commit = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        revision=revision,
        commit_message=commit_message,
        ignore_patterns=["*.partial", "__pycache__/*"],
    )
    return str(getattr(commit, "commit_url", commit))
