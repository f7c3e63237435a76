"""Train NoteLLM on any notes + clicks/pairs data set.

    python recipes/train.py --config recipes/smollm2-135m-cpu/config_debian.yaml [--max_steps 10 ...]
    accelerate launch --config_file recipes/accelerate_configs/ddp.yaml recipes/train.py --config ...

Unknown or mistyped keys (in the YAML or on the command line) fail before any model loads.
"""

from trl import ModelConfig, TrlParser

from notellm_hf import NoteLLMTrainingArguments
from notellm_hf.recipe import DataArguments, train


def main() -> None:
    parser = TrlParser((ModelConfig, DataArguments, NoteLLMTrainingArguments))
    model_args, data_args, training_args = parser.parse_args_and_config(fail_with_unknown_args=True)
    train(model_args, data_args, training_args)


if __name__ == "__main__":
    main()
