"""`python -m tina_utils.cost`: rewrite results/reference/*.csv from the paper's numbers in tina_utils/paper.py."""

from tina_utils import env
from tina_utils.paper import write_reference_tables

if __name__ == "__main__":
    for written in write_reference_tables():
        print(written.relative_to(env.results_dir()))
