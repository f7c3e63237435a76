"""Loading what NoteLLM starts from and what it produces.

- [`load_backbone`]: a causal LM and its tokenizer from a Hub id, a local folder or a ``.gguf`` file
  (dequantised into a plain model that saves and reloads like any other);
- [`resolve_backbone`]: a recipe's backbone location made loadable (``package:<module>/<file>`` points into an
  installed package; a ``.gguf`` file is converted once to a safetensors folder in the cache);
- [`load_notellm`]: a trained NoteLLM folder or Hub id with its tokenizer (remote code), with a named error
  when the folder holds some other model.

This is training- and tooling-side code: the remote-code files in ``models/notellm`` never import it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from .data.io import atomic_path
from .data.sources import cache_dir

PACKAGE_SCHEME = "package:"


def load_backbone(source: str | Path, dtype: Any = None) -> tuple[PreTrainedModel, Any]:
    """Loads a causal LM and its tokenizer from a Hub id, a local folder or a ``.gguf`` file."""
    path = Path(str(source))
    if path.suffix != ".gguf":
        return AutoModelForCausalLM.from_pretrained(str(source), dtype=dtype), AutoTokenizer.from_pretrained(
            str(source)
        )
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    quantized = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=dtype)
    # A GGUF-loaded model is not serialisable; a plain model built from its config with the
    # dequantized weights saves and reloads like any other.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=quantized.dtype)
    model.load_state_dict(quantized.state_dict())
    return model, tokenizer


def resolve_backbone(source: str) -> str:
    """A loadable backbone location: ``package:<module>/<file>`` points into an installed package, and a
    ``.gguf`` file is converted once to a safetensors folder in the cache (later loads are ~6x faster)."""
    if source.startswith(PACKAGE_SCHEME):
        module, _, filename = source[len(PACKAGE_SCHEME) :].partition("/")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"backbone {source!r}: package {module!r} is not installed")
        source = str(Path(next(iter(spec.submodule_search_locations))) / filename)
    if not source.endswith(".gguf"):
        return source
    path = Path(source)
    if not path.exists():
        raise ValueError(f"backbone {source!r} does not exist")
    folder = cache_dir() / "backbones" / path.stem
    if not (folder / "config.json").exists():
        model, tokenizer = load_backbone(path)
        with atomic_path(folder) as partial:
            model.save_pretrained(partial)
            tokenizer.save_pretrained(partial)
    return str(folder)


def load_notellm(source: str | Path, **model_kwargs: Any) -> tuple[PreTrainedModel, Any]:
    """A NoteLLM model (folder or Hub id, loaded with its remote code) and its tokenizer.

    Anything that is not a NoteLLM model (a plain causal LM, a LoRA adapter, a missing folder) is a
    ``ValueError`` naming the source, before any weights load.
    """
    source = str(source)
    local = Path(source)
    if (local / "adapter_config.json").exists() and not (local / "config.json").exists():
        raise ValueError(f"{source} is a LoRA adapter, not a NoteLLM model: merge it first with `notellm export`")
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=True)
    except (OSError, ValueError) as error:
        raise ValueError(f"{source} is not a NoteLLM model: its config cannot be loaded ({error})") from error
    if config.model_type != "notellm":
        raise ValueError(f"{source} is not a NoteLLM model: its model_type is {config.model_type!r}, not 'notellm'")
    model = AutoModel.from_pretrained(source, trust_remote_code=True, **model_kwargs)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=True)
    return model, tokenizer
