"""benchmarks/quality.py refuses a misspelt row before it trains anything, and `make benchmark`'s own command lines
pass that check (their hybrid rows and reference name rows the run reports)."""

import importlib.util
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUALITY = ROOT / "benchmarks" / "quality.py"


def run_quality(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(QUALITY), "--check", *flags], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def benchmark_command_lines() -> list[list[str]]:
    """The quality.py argument lists that `make benchmark` would run, as make expands them (-n prints the recipes,
    the installation's included when it is due, and runs none of them)."""
    dry_run = subprocess.run(["make", "-n", "benchmark"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    lines = [shlex.split(line) for line in dry_run.splitlines() if "benchmarks/quality.py" in line]
    return [words[words.index("benchmarks/quality.py") + 1 :] for words in lines]


def test_make_benchmark_asks_for_rows_the_run_reports():
    commands = benchmark_command_lines()
    assert [command[command.index("--data") + 1] for command in commands] == ["debian", "movielens"]
    assert any("--lexical" in command for command in commands)
    for command in commands:
        checked = run_quality(*command)
        assert checked.returncode == 0, (command, checked.stderr)
        assert "rows checked: variants ['NoteLLM', 'NoteLLM w/o CSFT', 'NoteLLM w/o GCL']" in checked.stdout


def test_make_benchmark_trains_movielens_at_alpha_3_and_keeps_the_ablations_own_alpha():
    """`--extra "--alpha 3"` reaches every MovieLens variant, yet a variant's own flags win: w/o CSFT stays at alpha 0.
    The flags --check prints are parsed the way the training parses them."""
    from notellm_hf.training.recipe import parse_recipe_args

    movielens = next(command for command in benchmark_command_lines() if "movielens" in command)
    checked = run_quality(*movielens)
    assert checked.returncode == 0, checked.stderr
    trained = dict(line.strip().split(": ", 1) for line in checked.stdout.splitlines()[1:])
    alphas = {variant: parse_recipe_args(shlex.split(flags))[-1].alpha for variant, flags in trained.items()}
    assert alphas == {"NoteLLM": 3.0, "NoteLLM w/o CSFT": 0.0, "NoteLLM w/o GCL": 3.0}
    assert parse_recipe_args(shlex.split(trained["NoteLLM w/o GCL"]))[-1].use_contrastive_loss is False


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lexical", "NoteLMM=0.5"], "not embedding rows scored here: ['NoteLMM']"),
        (["--lexical", "popularity=0.5"], "not embedding rows scored here: ['popularity']"),
        (["--reference", "NoteLLM+lexical"], "reference row 'NoteLLM+lexical' is not among the rows"),
        (["--variants", "NoteLLM,top 61 layers"], "unknown variants ['top 61 layers']"),
        (["--baselines", "bm25"], "unknown baselines ['bm25']"),
        (["--lexical", "NoteLLM=0.4,0.5"], "on the test pool: choose them with --dev"),
    ],
)
def test_bad_rows_are_named_before_any_training(flags, message):
    checked = run_quality(*flags)
    assert checked.returncode != 0 and message in checked.stderr, checked.stderr
    assert "Traceback" not in checked.stderr


def test_a_hybrid_row_can_be_the_reference():
    checked = run_quality("--lexical", "NoteLLM=0.5", "--reference", "NoteLLM + lexical")
    assert checked.returncode == 0, checked.stderr
    assert "hybrid rows ['NoteLLM']" in checked.stdout


def test_checkpoints_saved_before_the_last_step_become_rows(tmp_path):
    spec = importlib.util.spec_from_file_location("quality", QUALITY)
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    for name in ("checkpoint-128", "checkpoint-64", "checkpoint-256", "checkpoint-best", "model"):
        (tmp_path / name).mkdir()
    (tmp_path / "checkpoint-32").write_text("a file, not a saved model")
    rows = quality.intermediate_checkpoints("alpha 3", tmp_path, steps_done=256)
    # Step order; the last step's checkpoint is the variant's own model, not a row of its own.
    assert rows == {"alpha 3 @ step 64": tmp_path / "checkpoint-64", "alpha 3 @ step 128": tmp_path / "checkpoint-128"}
    assert quality.intermediate_checkpoints("alpha 3", tmp_path, steps_done=64) == {}
