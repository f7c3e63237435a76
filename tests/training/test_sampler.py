from collections import Counter

import pytest

from notellm_hf.training import SameCategorySampler, StrongPairsFirstSampler, note_key

from conftest import TOY_NOTES, pair_dataset, tiny_trainer, tiny_training_args


def test_each_category_fills_whole_batches_and_the_rest_is_pooled():
    # 10 A, 7 B, 3 C at 4 a batch: A gives 2 batches, B 1; the leftovers 2 + 3 + 3 = 8 make 2 mixed batches.
    categories = ["A"] * 10 + ["B"] * 7 + ["C"] * 3
    sampler = SameCategorySampler(categories, batch_size=4, seed=0)
    batches = sampler.batches()
    assert sorted(i for batch in batches for i in batch) == list(range(20))
    assert [len(batch) for batch in batches] == [4] * 5
    # The leftovers (2 A, 3 B, 3 C) cannot fill a pure batch of 4, so exactly the full ones are pure.
    pure = Counter(categories[batch[0]] for batch in batches if len({categories[i] for i in batch}) == 1)
    assert pure == Counter({"A": 2, "B": 1})
    # The iteration order is the batches' order, so a dataloader's runs of 4 are these batches.
    order = list(sampler)
    assert [order[start : start + 4] for start in range(0, 20, 4)] == batches
    assert len(sampler) == 20


def test_an_incomplete_batch_comes_last():
    categories = ["A"] * 5 + ["B"] * 6
    for epoch in range(5):
        sampler = SameCategorySampler(categories, batch_size=4, seed=3)
        sampler.set_epoch(epoch)
        batches = sampler.batches()
        assert [len(batch) for batch in batches] == [4, 4, 3]
        assert {categories[i] for i in batches[0]} in ({"A"}, {"B"}) and {categories[i] for i in batches[1]} in (
            {"A"},
            {"B"},
        )


def test_the_order_follows_seed_and_epoch():
    categories = [str(i % 3) for i in range(60)]
    first = SameCategorySampler(categories, batch_size=5, seed=1)
    again = SameCategorySampler(categories, batch_size=5, seed=1)
    assert list(first) == list(again)
    again.set_epoch(1)
    assert list(first) != list(again)
    assert list(SameCategorySampler(categories, batch_size=5, seed=2)) != list(first)


def test_a_batch_size_below_one_is_a_named_error():
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        SameCategorySampler(["A"], batch_size=0)


def _anchor_categories_per_batch(trainer) -> list[set[str]]:
    category_of = {note_key(note["note_id"]): note["category"] for note in TOY_NOTES}
    batches = []
    for batch in trainer.get_train_dataloader():
        anchors = batch["note_keys"][: len(batch["note_keys"]) // 2]
        batches.append({category_of[int(key)] for key in anchors})
    return batches


def test_the_trainer_batches_anchors_of_one_category_and_trains(tmp_path):
    # The toy pairs' four anchors have four categories; 8 copies of each at 4 pairs a batch.
    trainer = tiny_trainer(tmp_path, same_category_batches=True, max_steps=3)
    batches = _anchor_categories_per_batch(trainer)
    assert len(batches) == 8 and all(len(categories) == 1 for categories in batches)
    assert Counter(next(iter(categories)) for categories in batches) == Counter(
        {"Food": 2, "Travel": 2, "Music": 2, "Sports": 2}
    )
    trainer.train()
    assert trainer.state.global_step == 3
    # Random batches (the default) mix the categories.
    assert any(len(categories) > 1 for categories in _anchor_categories_per_batch(tiny_trainer(tmp_path / "random")))


def test_same_category_batches_refuse_another_sampling_strategy_or_collator(tmp_path):
    with pytest.raises(ValueError, match="same_category_batches"):
        tiny_training_args(tmp_path, same_category_batches=True, train_sampling_strategy="group_by_length")
    trainer = tiny_trainer(tmp_path, same_category_batches=True)
    trainer.data_collator = lambda features: features  # a collator that cannot read categories
    with pytest.raises(ValueError, match="through a NoteLLMCollator"):
        trainer.get_train_dataloader()


def test_the_strongest_pairs_come_first_in_random_order_then_the_rest():
    scores = [0.5, 3.0, 0.1, 2.0, 0.7, 9.0, 0.2, 4.0, 0.3, 0.4]  # the four strongest: rows 5, 7, 1, 3
    leads = set()
    for seed in range(6):
        order = list(StrongPairsFirstSampler(scores, lead_rows=4, seed=seed))
        assert sorted(order) == list(range(10))
        assert set(order[:4]) == {1, 3, 5, 7}
        leads.add(tuple(order[:4]))
    assert len(leads) > 1  # shuffled among themselves, not sorted
    assert set(list(StrongPairsFirstSampler(scores, lead_rows=0, seed=0))) == set(range(10))


def test_ties_at_the_cut_are_drawn_at_random_and_later_epochs_are_plain_random():
    scores = [1.0] * 6 + [0.0] * 6  # lead 3 of the six tied rows
    picked = set()
    for seed in range(8):
        sampler = StrongPairsFirstSampler(scores, lead_rows=3, seed=seed)
        picked.add(frozenset(list(sampler)[:3]))
        assert all(row < 6 for row in list(sampler)[:3])
        assert list(sampler) == list(StrongPairsFirstSampler(scores, lead_rows=3, seed=seed))  # replayable
    assert len(picked) > 1
    # After the first epoch no curriculum: some seed's epoch-1 order opens with a zero-score row.
    openings = []
    for seed in range(8):
        sampler = StrongPairsFirstSampler(scores, lead_rows=3, seed=seed)
        sampler.set_epoch(1)
        order = list(sampler)
        assert sorted(order) == list(range(12))
        openings.append(order[:3])
    assert any(row >= 6 for opening in openings for row in opening)


def test_strong_pairs_first_refuses_scores_that_rank_nothing_and_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="scores are all 1.0"):
        StrongPairsFirstSampler([1.0, 1.0], lead_rows=1)
    with pytest.raises(ValueError, match="lead_rows must be >= 0"):
        StrongPairsFirstSampler([1.0, 2.0], lead_rows=-1)
    with pytest.raises(ValueError, match="strong_pairs_first_steps must be >= 0"):
        tiny_training_args(tmp_path, strong_pairs_first_steps=-1)
    with pytest.raises(ValueError, match="pick one"):
        tiny_training_args(tmp_path, strong_pairs_first_steps=2, same_category_batches=True)
    with pytest.raises(ValueError, match="strong_pairs_first_steps sets the batches' order"):
        tiny_training_args(tmp_path, strong_pairs_first_steps=2, train_sampling_strategy="group_by_length")
    with pytest.raises(ValueError, match="'score' column"):
        tiny_trainer(tmp_path, strong_pairs_first_steps=2).get_train_dataloader()


def test_the_trainer_opens_with_the_strongest_pairs_and_trains(tmp_path):
    # 32 toy rows at 4 a batch; the 8 copies of guitar-piano score highest, so the first 2 steps hold exactly them.
    dataset = pair_dataset()
    strong = note_key("guitar")
    dataset = dataset.add_column("score", [5.0 if row["anchor"]["note_id"] == "guitar" else 1.0 for row in dataset])
    trainer = tiny_trainer(tmp_path, train_dataset=dataset, strong_pairs_first_steps=2, max_steps=3)
    anchors = [batch["note_keys"][: len(batch["note_keys"]) // 2].tolist() for batch in trainer.get_train_dataloader()]
    assert anchors[0] == anchors[1] == [strong] * 4
    assert sum(row.count(strong) for row in anchors[2:]) == 0
    trainer.train()
    assert trainer.state.global_step == 3
