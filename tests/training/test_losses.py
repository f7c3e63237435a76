import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from notellm_hf import NoteLLMContrastiveLoss

from conftest import free_port


def reference_loss(embeddings: np.ndarray, keys: list, scale: float, queries: int | None = None) -> float:
    """The paper's L_cl written out term by term, with same-note candidates removed from the denominator. Rows
    from ``queries`` on are hard negatives: in every denominator, never a query."""
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    n = queries or len(e)
    total = 0.0
    for i in range(n):
        p = (i + n // 2) % n
        denominator = 0.0
        for j in range(len(e)):
            if j == i:
                continue
            if j != p and (keys[j] == keys[i] or keys[j] == keys[p]):
                continue
            denominator += np.exp(scale * e[i] @ e[j])
        total += -np.log(np.exp(scale * e[i] @ e[p]) / denominator)
    return total / n


@pytest.mark.parametrize("keys", [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 0, 5], [0, 1, 1, 2, 3, 4]])
def test_loss_matches_numpy_formula(keys):
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(6, 5)).astype(np.float64)
    scale = float(np.exp(3.0))
    got = NoteLLMContrastiveLoss()(torch.tensor(embeddings), torch.tensor(keys), torch.tensor(scale))
    assert got.loss.item() == pytest.approx(reference_loss(embeddings, keys, scale), rel=1e-5)


def test_duplicate_notes_are_masked_not_counted_as_negatives():
    # Row 2 repeats note 0 with an identical embedding: unmasked it would dominate row 0's denominator.
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.9, 0.1], [0.1, 0.9], [-1.0, 0.0]])
    keys = torch.tensor([10, 11, 10, 12, 13, 14])
    masked = NoteLLMContrastiveLoss()(e, keys, torch.tensor(20.0))
    unmasked = NoteLLMContrastiveLoss()(e, torch.arange(6), torch.tensor(20.0))
    assert masked.loss < unmasked.loss


def test_accuracy_and_gradient_reach_the_scale():
    # Each note is closest to its related note: raising the scale sharpens the right answer, so d loss / d tau < 0.
    e = torch.eye(4)[[0, 1, 0, 1]] + 0.1 * torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    scale = torch.tensor(0.0, requires_grad=True)
    out = NoteLLMContrastiveLoss()(e, torch.arange(4), scale.exp())
    out.loss.backward()
    assert out.accuracy.item() == 1.0 and scale.grad is not None and scale.grad < 0


def test_odd_rows_are_rejected():
    with pytest.raises(ValueError, match="2B query rows"):
        NoteLLMContrastiveLoss()(torch.randn(3, 4), torch.arange(3), torch.tensor(1.0))


def _worker(rank, world_size, port, paper_compat, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(0)
    weight = torch.randn(8, 4)  # same on both ranks; rank r embeds its own half of each side
    inputs = torch.randn(8, 8)
    keys = torch.arange(8)
    b = 2  # pairs per rank
    index = torch.cat([torch.arange(rank * b, rank * b + b), 4 + torch.arange(rank * b, rank * b + b)])
    w = weight.clone().requires_grad_(True)
    out = NoteLLMContrastiveLoss(paper_compat=paper_compat)(inputs[index] @ w, keys[index], torch.tensor(5.0))
    out.loss.backward()
    dist.all_reduce(w.grad)  # DDP averages gradients: sum here, divide below
    loss = out.loss.detach().clone()
    dist.all_reduce(loss)
    queue.put((rank, dist.get_world_size(), loss.item() / world_size, (w.grad / world_size).numpy()))
    dist.destroy_process_group()


@pytest.mark.parametrize("paper_compat", [False, True])
def test_two_processes_match_the_full_batch(paper_compat):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(r, 2, port, paper_compat, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert {r[1] for r in results} == {2}, "expected world_size == 2"
    # One process holding the whole batch [a0 a1 a2 a3; p0 p1 p2 p3]: every query sees the same candidates.
    torch.manual_seed(0)
    weight = torch.randn(8, 4)
    inputs = torch.randn(8, 8)
    w = weight.clone().requires_grad_(True)
    full = NoteLLMContrastiveLoss()(inputs @ w, torch.arange(8), torch.tensor(5.0))
    full.loss.backward()
    loss, grad = results[0][2], results[0][3]
    np.testing.assert_allclose(results[1][3], grad)  # both ranks step with the same averaged gradient
    assert loss == pytest.approx(full.loss.item(), rel=1e-5)
    if paper_compat:
        # No gradient through the other rank's notes: the contrastive gradient shrinks.
        assert np.linalg.norm(grad) < np.linalg.norm(w.grad.numpy())
    else:
        np.testing.assert_allclose(grad, w.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("keys", [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 2, 7]])
def test_hard_negatives_join_every_denominator(keys):
    # 2 pairs (4 query rows) + 4 negative rows; in the second case negative row 6 is query note 2 again: masked.
    rng = np.random.default_rng(1)
    embeddings = rng.normal(size=(8, 5))
    scale = 12.0
    got = NoteLLMContrastiveLoss()(torch.tensor(embeddings), torch.tensor(keys), torch.tensor(scale), query_rows=4)
    assert got.loss.item() == pytest.approx(reference_loss(embeddings, keys, scale, queries=4), rel=1e-6)
    assert got.candidates == 8
    without = NoteLLMContrastiveLoss()(torch.tensor(embeddings[:4]), torch.tensor(keys[:4]), torch.tensor(scale))
    assert got.loss > without.loss  # more candidates in every denominator


def reference_distilled_loss(embeddings: np.ndarray, keys: list, scale: float, teacher: np.ndarray, w: float) -> float:
    """(1 - w) x the paper's L_cl + w x the cross-entropy of each query's softmax against the teacher's softmax, both
    over the same candidates (self and other copies of the query's or its partner's note left out), term by term."""
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    n = len(e)
    soft = 0.0
    for i in range(n):
        p = (i + n // 2) % n
        allowed = [j for j in range(n) if j != i and (j == p or (keys[j] != keys[i] and keys[j] != keys[p]))]
        log_denominator = np.log(sum(np.exp(scale * e[i] @ e[j]) for j in allowed))
        teacher_total = sum(np.exp(teacher[i, j]) for j in allowed)
        for j in allowed:
            soft += -(np.exp(teacher[i, j]) / teacher_total) * (scale * e[i] @ e[j] - log_denominator)
    return (1 - w) * reference_loss(embeddings, keys, scale) + w * soft / n


@pytest.mark.parametrize("keys", [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 0, 5]])
def test_teacher_targets_match_the_written_out_loss(keys):
    rng = np.random.default_rng(2)
    embeddings = rng.normal(size=(6, 5))
    teacher_logits = rng.normal(size=(6, 6)) * 3
    scale, w = 15.0, 0.3
    got = NoteLLMContrastiveLoss(teacher=lambda q, c: torch.tensor(teacher_logits), teacher_weight=w)(
        torch.tensor(embeddings), torch.tensor(keys), torch.tensor(scale)
    )
    expected = reference_distilled_loss(embeddings, keys, scale, teacher_logits, w)
    assert got.loss.item() == pytest.approx(expected, rel=1e-6)
    assert got.info_nce.item() == pytest.approx(reference_loss(embeddings, keys, scale), rel=1e-6)


def test_a_teacher_that_names_only_the_partner_is_the_paper_loss():
    # One-hot teacher logits (huge on the related row): the soft targets are the paper's targets, whatever the weight.
    rng = np.random.default_rng(3)
    embeddings = torch.tensor(rng.normal(size=(6, 4)))
    one_hot = torch.full((6, 6), -1e4)
    one_hot[torch.arange(6), (torch.arange(6) + 3) % 6] = 1e4
    distilled = NoteLLMContrastiveLoss(teacher=lambda q, c: one_hot, teacher_weight=0.7)(
        embeddings, torch.arange(6), torch.tensor(20.0)
    )
    assert distilled.loss.item() == pytest.approx(distilled.info_nce.item(), rel=1e-6)  # float32 inside


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_teacher_weight_outside_the_unit_interval_is_named(weight):
    with pytest.raises(ValueError, match="teacher's weight must lie in"):
        NoteLLMContrastiveLoss(teacher=lambda q, c: torch.zeros(2, 2), teacher_weight=weight)


def test_teacher_weight_without_a_teacher_is_named():
    with pytest.raises(ValueError, match="needs a teacher"):
        NoteLLMContrastiveLoss(teacher_weight=0.5)


def test_without_the_teacher_the_loss_is_the_papers_and_the_teacher_is_not_asked():
    def teacher(query_keys, candidate_keys):
        raise AssertionError("an evaluation batch asked the teacher")

    embeddings = np.random.default_rng(4).normal(size=(6, 5))
    got = NoteLLMContrastiveLoss(teacher=teacher, teacher_weight=0.5)(
        torch.tensor(embeddings), torch.arange(6), torch.tensor(20.0), use_teacher=False
    )
    assert got.distillation is None
    assert got.loss.item() == pytest.approx(reference_loss(embeddings, list(range(6)), 20.0), rel=1e-6)
