"""Publishing an export with the standard ``huggingface_hub`` APIs: the card first, then the folder."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.utils import HFValidationError, validate_repo_id

from .export import EXPORT_FILES


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
