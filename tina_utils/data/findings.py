"""Notebook 01's opening and closing: the paper's training-set and benchmark sizes beside ours, and what the prepared
set shows (size, prompt lengths against the budget, gold answers the grader parses).

The paper's sizes come from results/reference/ (ablations.csv and tina_models.csv for the training sets,
benchmark_sizes.csv for the benchmarks), read through tina_utils.paper.
"""

import pandas as pd

from tina_utils import paper
from tina_utils.data.train_sets import TINY_DEFAULT_N

TINY_SETS = ("tiny", "tiny_easy", "tiny_hard")


def paper_train_sets() -> pd.DataFrame:
    """The training sets Tina trained on (dataset, prompts), smallest first, from the reference tables."""
    ablations = paper.load_reference("ablations").query("ablation == 'dataset'")[["dataset", "dataset_size_k"]]
    models = paper.load_reference("tina_models")[["dataset", "dataset_size_k"]]
    sets = pd.concat([ablations, models]).drop_duplicates("dataset")
    sets = sets.assign(prompts=(sets["dataset_size_k"] * 1000).round().astype(int))
    return sets[["dataset", "prompts"]].sort_values("prompts").reset_index(drop=True)


def sizes(tiny_eval_rows: int) -> pd.DataFrame:
    """Training sets (prompts) and benchmarks (problems) of the paper and of the tiny world, one row each."""
    train = paper_train_sets().rename(columns={"dataset": "set", "prompts": "size"}).assign(world="paper")
    tiny = pd.DataFrame({"set": TINY_SETS, "size": TINY_DEFAULT_N, "world": "tiny"})
    bench = paper.load_reference("benchmark_sizes").rename(columns={"benchmark": "set", "problems": "size"})
    evals = pd.concat([bench.assign(world="paper"), pd.DataFrame([{"set": "tiny_eval", "size": tiny_eval_rows,
                                                                    "world": "tiny"}])])
    table = pd.concat([train.assign(use="train"), tiny.assign(use="train"), evals.assign(use="eval")])
    return table[["use", "world", "set", "size"]].reset_index(drop=True)


def _share(count: int, total: int) -> str:
    return f"{100 * count / max(total, 1):.1f} %"


def findings(summary: pd.Series, max_prompt_tokens: int, paper_prompt_tokens: int = 512) -> str:
    """Markdown bullets: what the prepared set shows (data.dataset_summary's row), beside the paper's sets."""
    s, sets = summary, paper_train_sets()
    smallest, largest = sets.iloc[0], sets.iloc[-1]
    fits = "yes" if s.dropped_too_long == 0 else "no"
    lines = [f"{s.dataset}: {s.rows:,} of {s.raw_rows:,} rows kept ({_share(s.rows, s.raw_rows)}); the paper's sets "
            f"hold {smallest.prompts:,} ({smallest.dataset}) to {largest.prompts:,} ({largest.dataset}) prompts.",
            f"Prompt tokens: median {s.prompt_tokens_p50:g}, 95th percentile {s.prompt_tokens_p95:g}, longest "
            f"{s.prompt_tokens_max} against a budget of {max_prompt_tokens} (the paper's: {paper_prompt_tokens}); "
            f"{s.dropped_too_long:,} dropped as too long ({_share(s.dropped_too_long, s.raw_rows)}; Tina "
            f"left-truncated them instead). Every prompt fits the budget: {fits}.",
            f"Gold answers the grader parses: {100 * s.gold_parse_share:.1f} % ({s.dropped_unparseable_gold:,} "
            f"rows dropped; in Tina's training they would only have given no reward)."]
    return "\n".join(f"- {line}" for line in lines)
