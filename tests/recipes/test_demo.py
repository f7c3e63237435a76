import importlib.util
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "recipes" / "demo.py"


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_gets_what_the_budget_leaves_after_the_measured_encoding_cost(demo, monkeypatch):
    monkeypatch.setattr(demo, "POOL_PASSES_AFTER_TRAINING", 2.5)
    monkeypatch.setattr(demo, "SAFETY_SECONDS", 120)
    # 1,500 s budget, 100 s spent, a 40 s head pass, 2.5 passes of 200 s over the pool: 1500-100-40-500-120 = 740.
    assert demo.training_seconds(1500, 100, pool_pass=200, head_pass=40) == pytest.approx(740)
    # A CPU twice as fast keeps the same overheads and gains the halved encoding time for training.
    assert demo.training_seconds(1500, 100, pool_pass=100, head_pass=20) == pytest.approx(1010)


def test_the_baselines_share_is_set_aside_only_until_they_have_run(demo, monkeypatch):
    monkeypatch.setattr(demo, "POOL_PASSES_AFTER_TRAINING", 2.0)
    monkeypatch.setattr(demo, "BASELINE_POOL_PASSES", 1.5)
    monkeypatch.setattr(demo, "SAFETY_SECONDS", 100)
    # Before the baselines: 1500-100-40-(2.0+1.5)*200-100 = 560; after them (their 330 s now part of the 430 s spent):
    # 1500-430-40-2.0*200-100 = 530.
    assert demo.training_seconds(1500, 100, 200, 40, baselines_pending=True) == pytest.approx(560)
    assert demo.training_seconds(1500, 430, 200, 40) == pytest.approx(530)


def test_prompteol_is_scored_only_when_the_budget_still_holds_its_pass_beside_the_evaluation(demo, monkeypatch):
    monkeypatch.setattr(demo, "POOL_PASSES_AFTER_TRAINING", 1.5)
    monkeypatch.setattr(demo, "PROMPTEOL_POOL_PASSES", 1.0)
    monkeypatch.setattr(demo, "SAFETY_SECONDS", 100)
    # 1,500 s budget, 200 s passes: the evaluation's 300 s, PromptEOL's 200 s and 100 s of safety need 600 s left,
    # i.e. at most 900 s spent when training ends.
    assert demo.prompteol_fits(1500, 900, pool_pass=200)
    assert not demo.prompteol_fits(1500, 901, pool_pass=200)
    # A CPU twice as fast halves the passes, not the safety: 150 + 100 + 100 = 350 s, so training may end at 1,150 s.
    assert demo.prompteol_fits(1500, 1150, pool_pass=100)
    assert not demo.prompteol_fits(1500, 1151, pool_pass=100)


def test_training_stops_after_the_asked_passes_over_the_pairs(demo):
    # The shipped config trains 32 pairs per step: 2,048 pairs once = 64 steps, 1.5 times = 96, a partial batch counts.
    assert demo.epoch_steps(2048, 1.0) == 64
    assert demo.epoch_steps(2048, 1.5) == 96
    assert demo.epoch_steps(100, 1.0) == 4


def test_the_report_says_how_many_steps_the_budget_allowed_and_whether_the_loss_left_its_random_level(demo):
    # Four logged windows of 64 candidates: the last quarter is the last one (loss 2.0, accuracy 0.5); ln 63 = 4.143.
    windows = [{"loss_contrastive": 4.0, "retrieval_accuracy": 0.1, "contrastive_candidates": 64.0}] * 3
    log = [*windows, {"loss_contrastive": 2.0, "retrieval_accuracy": 0.5, "contrastive_candidates": 64.0}]
    stopped = {"steps_done": 78, "max_steps": 128, "train_seconds": 788.4, "log_history": log}
    assert demo.training_summary(stopped) == (
        "Training: 78 of 128 steps in 788 s (the time budget ended it; fewer steps, a smaller lead over MiniLM: "
        "README, steps per CPU); contrastive loss over the last quarter 2.000, 2.143 below its random level "
        "ln(64 - 1) = 4.143, in-batch accuracy 0.500"
    )
    # The whole pass, and a log too short for a quarter: no budget remark, no signal.
    finished = {"steps_done": 128, "max_steps": 128, "train_seconds": 1024.0, "log_history": log[:3]}
    assert demo.training_summary(finished) == "Training: 128 of 128 steps in 1024 s"


def test_the_hybrid_line_compares_notellms_hybrid_with_minilms_pair_by_pair(demo):
    def row(ranks, weight):
        retrieval = {"ranks": ranks, "scaled_ks": {"top 1": 1, "top 10": 10}, "pairs": len(ranks), "avg": 0.0}
        return {"retrieval": retrieval, "lexical": {"weight": weight}}

    # Per pair (top 1, top 10): NoteLLM + lexical 100, 50, 0, 100 -> Avg 62.5; minilm + lexical 50, 50, 0, 0 -> 25.
    results = {"NoteLLM + lexical": row([1, 5, 20, 1], 0.5), "minilm + lexical": row([2, 5, 20, 30], 0.6)}
    results["NoteLLM + lexical"]["retrieval"]["avg"], results["minilm + lexical"]["retrieval"]["avg"] = 62.5, 25.0
    line = demo.hybrid_comparison(results)
    assert line.startswith("Hybrid ranking (each cosine fused with the pool's TF-IDF cosine: NoteLLM w = 0.5, minilm w")
    assert "NoteLLM + lexical 62.50 vs minilm + lexical 25.00, difference +37.50 [" in line
    low, high = (float(v) for v in line.rsplit("[", 1)[1].rstrip("]").split(", "))
    # The per-pair differences are 50, 0, 0, 100: every resampled mean lies in [0, 100].
    assert 0.0 <= low <= 37.5 <= high <= 100.0
    assert "vs_reference" not in results["minilm + lexical"]  # the table's own comparisons stay as they were


@pytest.mark.parametrize(
    ("precision", "native", "expected"),
    [("auto", True, True), ("auto", False, False), ("fp32", True, False), ("bf16", False, True)],
)
def test_the_training_runs_in_the_asked_precision_and_auto_follows_the_cpu(
    demo, tmp_path, monkeypatch, precision, native, expected
):
    from notellm_hf.training.recipe import parse_recipe_args

    # The CPU's answer is fixed, so the expectation does not come from the detection under test.
    monkeypatch.setattr("notellm_hf.precision.cpu_has_native_bf16", lambda: native)
    (tmp_path / "stats.json").write_text('{"train": {"pairs": 100}}')
    training_args = parse_recipe_args(demo.training_argv(tmp_path, tmp_path / "train", 1.0, precision))[-1]
    assert training_args.bf16 is expected
    assert training_args.max_steps == 4  # 100 pairs at the config's 32 per step, a partial batch counted


def test_a_run_in_fp32_says_first_what_its_budget_can_buy(demo, monkeypatch):
    assert "computes in fp32" in demo.fp32_expectation("fp32")
    assert demo.fp32_expectation("bf16") is None
    # auto follows the CPU: a CPU without native bf16 gets the note, one with it does not.
    monkeypatch.setattr("notellm_hf.precision.cpu_has_native_bf16", lambda: False)
    assert "computes in fp32" in demo.fp32_expectation("auto")
    monkeypatch.setattr("notellm_hf.precision.cpu_has_native_bf16", lambda: True)
    assert demo.fp32_expectation("auto") is None
