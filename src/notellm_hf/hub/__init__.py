"""Hub export: one folder for AutoModel and SentenceTransformer, its model card, and publishing it."""

from .export import export_model
from .model_card import model_card
from .push import push_to_hub

__all__ = ["export_model", "model_card", "push_to_hub"]
