"""`python -m tina_utils.plots` (make figures): redraw every figure whose tables exist under results/."""

from tina_utils import env
from tina_utils.plots import registry

if __name__ == "__main__":
    env.cli_parser(prog="python -m tina_utils.plots", description=__doc__).parse_args()
    paths = registry.redraw_all()
    for path in paths:
        print(path.relative_to(env.results_dir()).with_suffix("").as_posix() + ".{pdf,svg,png}")
    print(f"{len(paths)} figures redrawn; where each came from: results/figures/index.csv")
