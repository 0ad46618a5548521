"""`python -m tina_utils.train RECIPE [--key value ...] [--run_dir DIR]`, also under `accelerate launch -m`."""

from tina_utils.train.runner import main

if __name__ == "__main__":
    main()
