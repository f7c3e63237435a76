import numpy as np
import pandas as pd
import torch
from sentence_transformers import SentenceTransformer

from notellm_hf import Note
from notellm_hf.data.notes import note_text
from notellm_hf.evaluation.baselines import (
    PROMPTEOL_TEMPLATE,
    LastTokenEncoder,
    finetune_sentence_transformer,
    minilm_path,
    sentence_transformer_embeddings,
)

from conftest import TOY_NOTES, TOY_PAIRS, build_tokenizer, tiny_backbone

NOTES = [Note.from_any(n) for n in TOY_NOTES]


def test_last_token_encoder_reads_the_final_prompt_token():
    tokenizer = build_tokenizer()
    model = tiny_backbone("llama", len(tokenizer))
    got = LastTokenEncoder(model, tokenizer, PROMPTEOL_TEMPLATE).encode(NOTES[:3], batch_size=2)
    for row, note in enumerate(NOTES[:3]):
        ids = tokenizer(PROMPTEOL_TEMPLATE.format(text=note_text(note, tokenizer)))["input_ids"]
        with torch.no_grad():
            hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0, -1]
        np.testing.assert_allclose(got[row], torch.nn.functional.normalize(hidden, dim=0).numpy(), atol=1e-5)


def test_minilm_zero_shot_and_fine_tuned(tmp_path):
    model = SentenceTransformer(minilm_path(), device="cpu")
    before = sentence_transformer_embeddings(model, NOTES)
    assert before.shape == (8, 384) and np.allclose(np.linalg.norm(before, axis=1), 1.0, atol=1e-5)
    pairs = pd.DataFrame({"note_id_a": [a for a, _ in TOY_PAIRS], "note_id_b": [b for _, b in TOY_PAIRS]})
    finetune_sentence_transformer(model, {n.note_id: n for n in NOTES}, pairs, tmp_path, batch_size=4, max_steps=3)
    after = sentence_transformer_embeddings(model, NOTES)
    assert not np.allclose(before, after, atol=1e-4)
