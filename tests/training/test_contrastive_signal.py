import math
import warnings

import pytest
from transformers import TrainerControl, TrainerState

from notellm_hf import ContrastiveSignalWarning
from notellm_hf.training import ContrastiveSignal
from notellm_hf.training.contrastive_signal import ContrastiveSignalCheck

from conftest import tiny_trainer, tiny_training_args


def history(tail_loss: float, tail_accuracy: float = 0.25) -> list[dict]:
    # 8 candidates; six early windows, two late ones (the last quarter of 8), then an evaluation row without a
    # contrastive loss, which must not count.
    early = [{"loss_contrastive": 1.0, "retrieval_accuracy": 0.9, "contrastive_candidates": 8.0}] * 6
    late = [{"loss_contrastive": tail_loss, "retrieval_accuracy": tail_accuracy, "contrastive_candidates": 8.0}] * 2
    return early + late + [{"eval_loss": 9.0}]


def test_the_signal_averages_the_last_quarter_against_ln_candidates_minus_one():
    # Scores that cannot tell the positive from the 6 other notes (the query itself is masked) give ln 7 = 1.9459.
    log = history(1.5)
    log[-2] = {**log[-2], "loss_contrastive": 1.7, "retrieval_accuracy": 0.5}
    signal = ContrastiveSignal.from_log_history(log)
    assert signal.windows == 2
    assert signal.loss == pytest.approx(1.6)
    assert signal.retrieval_accuracy == pytest.approx(0.375)
    assert signal.random_level == pytest.approx(1.945910, abs=1e-6)
    assert signal.below_random == pytest.approx(0.345910, abs=1e-6)
    assert signal.learned
    assert signal.to_dict()["learned"] is True
    assert signal.summary() == (
        "contrastive loss over the last quarter 1.600, 0.346 below its random level ln(8 - 1) = 1.946, "
        "in-batch accuracy 0.375"
    )


def test_too_few_windows_give_no_signal():
    assert ContrastiveSignal.from_log_history(history(1.5)[-4:]) is None  # 3 training windows
    assert ContrastiveSignal.from_log_history([{"loss_contrastive": 1.0}] * 8) is None  # no candidate count logged


@pytest.mark.parametrize(
    ("tail_loss", "warns", "position"),
    [(1.90, True, "only 0.046 below"), (2.50, True, "0.554 above"), (1.80, False, "")],
)
def test_a_contrastive_loss_left_at_or_above_its_random_level_is_reported(tail_loss, warns, position):
    # 1.90 is 0.046 below ln 7 = 1.946, 2.50 is 0.554 above, 1.80 is 0.146 below; the check warns short of 0.1 below.
    state = TrainerState()
    state.log_history = history(tail_loss)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ContrastiveSignalCheck().on_train_end(None, state, None)
    reported = [str(w.message) for w in caught if issubclass(w.category, ContrastiveSignalWarning)]
    assert bool(reported) is warns
    assert ContrastiveSignal.from_log_history(state.log_history).learned is not warns
    if warns:
        assert f"ended at {tail_loss:.3f}" in reported[0] and f"ln(8 - 1) = {math.log(7):.3f}" in reported[0]
        assert f"{position} its random level" in reported[0]


@pytest.mark.parametrize(("use_contrastive_loss", "warns"), [(True, True), (False, False)])
def test_a_run_that_does_not_train_the_contrastive_loss_is_not_warned(tmp_path, use_contrastive_loss, warns):
    # The w/o GCL ablation logs the contrastive loss without training it: a loss at its random level (1.90, 0.046
    # below ln 7) is then no sign that the pair texts lack what relates the notes.
    args = tiny_training_args(tmp_path, use_contrastive_loss=use_contrastive_loss)
    state = TrainerState()
    state.log_history = history(1.90)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ContrastiveSignalCheck().on_train_end(args, state, None)
    assert any(issubclass(w.category, ContrastiveSignalWarning) for w in caught) is warns


def windows(losses_by_step: dict[int, float]) -> list[dict]:
    rows = [
        {"step": step, "loss_contrastive": loss, "retrieval_accuracy": 0.1, "contrastive_candidates": 64.0}
        for step, loss in losses_by_step.items()
    ]
    return rows + [{"step": 25, "eval_loss": 1.0}]  # an evaluation row must not count


def test_the_signal_between_steps_averages_only_those_windows():
    log = windows({5: 6.5, 10: 4.2, 15: 4.0, 20: 4.1, 25: 3.9, 30: 1.0})
    signal = ContrastiveSignal.between_steps(log, 13, 25)
    assert signal.windows == 3 and signal.loss == pytest.approx(4.0)
    assert signal.below_random == pytest.approx(math.log(63) - 4.0)
    assert ContrastiveSignal.between_steps(log, 31, 40) is None


def hold_decision(tmp_path, losses_by_step: dict[int, float], margin: float = 0.03, step: int = 25):
    trainer = tiny_trainer(tmp_path, hold_check_steps=25, hold_margin=margin, logging_steps=5)
    state = TrainerState(global_step=step, log_history=windows(losses_by_step))
    control = TrainerControl()
    trainer.hold_check.on_log(trainer.args, state, control)
    return trainer.hold_check.held, control.should_training_stop


def test_the_hold_check_stops_a_run_whose_loss_stayed_at_its_random_level(tmp_path):
    # ln 63 = 4.1431; windows 15-25 (the second half of 25 steps) decide, the start windows do not.
    assert hold_decision(tmp_path, {5: 6.5, 10: 4.0, 15: 4.14, 20: 4.12, 25: 4.13}) == (False, True)  # 0.013 below
    assert hold_decision(tmp_path, {5: 6.5, 10: 4.2, 15: 4.05, 20: 4.08, 25: 4.09}) == (True, False)  # 0.070 below
    assert hold_decision(tmp_path, {5: 6.5, 10: 4.2, 15: 4.05, 20: 4.08, 25: 4.09}, margin=0.1) == (False, True)
    assert hold_decision(tmp_path, {5: 6.5, 10: 4.2}, step=20) == (None, False)  # not yet at the check


def test_the_hold_check_needs_windows_before_it_and_a_contrastive_loss(tmp_path):
    with pytest.raises(ValueError, match="logging_steps <= hold_check_steps / 2"):
        tiny_training_args(tmp_path, hold_check_steps=8, logging_steps=5)
    with pytest.raises(ValueError, match="use_contrastive_loss=False"):
        tiny_training_args(tmp_path, hold_check_steps=8, use_contrastive_loss=False)
    for name in ("hold_check_steps", "hold_margin", "max_restarts"):
        with pytest.raises(ValueError, match=f"{name} must be >= 0"):
            tiny_training_args(tmp_path, **{name: -1})
