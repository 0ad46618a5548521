"""`python -m tina_utils.evaluate TARGET [--preset P] [--benchmarks a,b] [--data NAME=PATH ...] [--debug]`."""

from tina_utils.evaluate.cli import main

if __name__ == "__main__":
    main()
