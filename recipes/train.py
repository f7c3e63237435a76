"""Train NoteLLM on any notes + clicks/pairs data set.

    python recipes/train.py --config recipes/smollm2-135m-cpu/config_debian.yaml [--max_steps 10 ...]
    accelerate launch --config_file recipes/accelerate_configs/ddp.yaml recipes/train.py --config ...

Unknown or mistyped keys (in the YAML or on the command line) fail before any model loads.
"""

from notellm_hf.training.recipe import parse_recipe_args, train


def main() -> None:
    train(*parse_recipe_args())


if __name__ == "__main__":
    main()
