"""docs/contracts.md stays true: its tables match the code's column lists and what a short tiny run writes.

Every table in docs/contracts.md that follows a `<!-- contract: NAME -->` marker lists, in its first column, the
columns or keys of one output. The fast tests compare them with the code's constants; the slow ones train the
tiny world for 2 steps (transition_mode observe), sweep base + both checkpoints on 2 problems, and compare them
with the files written.

Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_contracts.py -q   (add -m "not slow" for the fast part)
"""

import dataclasses
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tina_utils import cost, env, phase, runs
from tina_utils import evaluate as ev
from tina_utils.evaluate import core, paper_verdict, provenance, stats
from tina_utils.phase import early_stop
from tina_utils.train import FIELDS, runlog

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "docs" / "contracts.md"
DOCS_WITH_LINKS = [CONTRACTS, ROOT / "docs" / "fidelity.md", ROOT / "results" / "README.md"]


def documented(name: str) -> list[str]:
    """First-column names (in backticks) of the table right after `<!-- contract: name -->`."""
    lines = CONTRACTS.read_text().splitlines()
    start = lines.index(f"<!-- contract: {name} -->") + 3  # marker, header row, separator row
    names = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        names.append(re.search(r"`([^`]+)`", line.split("|")[1]).group(1))
    return names


def expand(names: list[str], **values) -> list[str]:
    """Replace a `<placeholder>` name by one name per value, e.g. rewards/<reward>/mean."""
    out = []
    for name in names:
        hole = re.search(r"<(\w+)>", name)
        if hole and hole.group(1) in values:
            out += [name.replace(hole.group(0), value) for value in values[hole.group(1)]]
        else:
            out.append(name)
    return out


# ---------------------------------------------------------------- fast: the documents against the code
def test_every_contract_table_parses():
    markers = re.findall(r"<!-- contract: (\S+) -->", CONTRACTS.read_text())
    assert len(markers) >= 20 and len(set(markers)) == len(markers)
    for name in markers:
        names = documented(name)
        assert names and len(set(names)) == len(names), name


def test_documented_columns_are_the_codes_column_lists():
    assert documented("runs.csv") == runlog.RUNS_COLUMNS
    assert documented("scores.csv") == ev.SCORE_COLUMNS
    assert documented("timing.csv") == ev.TIMING_COLUMNS
    assert documented("run_costs.csv") == cost.RUN_COLUMNS
    assert documented("checkpoint_costs.csv") == cost.CKPT_COLUMNS + ["score_<benchmark>"]
    assert documented("preset-hash") == list(ev.GENERATION_FIELDS)
    assert documented("macro.csv") == stats.MACRO_COLUMNS
    assert documented("provenance.csv") == ["provenance", *provenance.COLUMNS]
    assert documented("paper_verdict.csv") == paper_verdict.VERDICT_COLUMNS
    assert documented("transition") == [f.name for f in dataclasses.fields(phase.Transition)]


def test_phase_tables_match_what_the_code_returns():
    scores = pd.DataFrame({"checkpoint": ["checkpoint-10", "checkpoint-20"], "step": [10, 20],
                           "benchmark": ["tiny_eval"] * 2, "value": [40.0, 50.0]})
    transition = phase.Transition("format_reward", "rise", 15, 12, 18, 5.0, 0.1, 0.8, 0.05)
    assert list(phase.relate_to_checkpoints(transition, scores)) == documented("relation.json")
    assert set(phase.relate_to_checkpoints(None, scores)) < set(documented("relation.json"))
    assert list(early_stop.paper_projection()) == documented("early_stop_paper_projection.csv")


@pytest.mark.parametrize("doc", DOCS_WITH_LINKS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
        if not re.match(r"[a-z]+:", target):
            assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


# ---------------------------------------------------------------- slow: a real tiny run and sweep
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Train 2 tiny steps (checkpoint each step, transition observer on) and sweep them on 2 problems."""
    from tina_utils import train
    from tina_utils.train import load_recipe

    keys = []

    def recording_cache_key(**fields):
        keys.append(list(fields))
        return real_cache_key(**fields)

    real_cache_key = core.cache_key
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINA_RESULTS", str(tmp_path_factory.mktemp("results")))
        mp.setattr(core, "cache_key", recording_cache_key)  # looked up where _requests calls it
        recipe = load_recipe("tiny", run_id="contracts", max_steps=2, save_steps=1, prompts_per_step=2,
                             num_generations=4, per_device_batch_size=8, max_completion_length=24,
                             transition_mode="observe")
        run_dir = env.results_dir("02_train", "contracts")
        train.train(recipe, run_dir)
        preset = ev.get_preset("tiny", n_problems=2, n_samples=1, max_new_tokens=16)
        sweep = ev.sweep(run_dir, preset=preset, backend="transformers")
        checkpoints = cost.checkpoint_costs("contracts")
        yield dict(recipe=recipe, dir=run_dir, eval_dir=sweep.out_dir, results=env.results_dir(), keys=keys,
                   checkpoints=checkpoints, runs=cost.run_costs("contracts", checkpoints),
                   savings=early_stop.saving_table(checkpoints))


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _jsonl_keys(path: Path) -> list[str]:
    return list(json.loads(path.read_text().splitlines()[0]))


@pytest.mark.slow
def test_run_dir_holds_the_documented_files(run):
    names = set()
    for path in run["dir"].iterdir():
        if re.fullmatch(r"checkpoint-\d+", path.name):
            names.add("checkpoint-N/")
        elif path.name == "completions":
            assert all(re.fullmatch(r"completions_\d{5}\.parquet", p.name) for p in path.iterdir())
            names.add("completions/completions_NNNNN.parquet")
        else:
            names.add(path.name)
    assert names == set(documented("run-dir"))
    assert runs.checkpoint_steps(run["dir"]) == [1, 2]


@pytest.mark.slow
def test_log_csv_columns(run):
    log = pd.read_csv(run["dir"] / "log.csv")
    rewards = [f"{name}_reward" for name in run["recipe"].reward_funcs]
    assert set(log.columns) == set(expand(documented("log.csv"), reward=rewards))
    assert log.columns[0] == "step" and log["step"].tolist() == [1, 2]


@pytest.mark.slow
def test_recipe_env_and_run_json(run):
    assert list(yaml.safe_load((run["dir"] / "recipe.yaml").read_text())) == list(FIELDS)
    assert list(_json(run["dir"] / "env.json")) == documented("env.json")
    state = _json(run["dir"] / "run.json")
    assert set(state) <= set(documented("run.json")) and state["status"] == "complete"


@pytest.mark.slow
def test_checkpoint_files(run):
    for step in (1, 2):
        files = {p.name for p in (run["dir"] / f"checkpoint-{step}").iterdir()}
        assert files == set(documented("checkpoint"))


@pytest.mark.slow
def test_completions_parquet_columns(run):
    frame = pd.read_parquet(run["dir"] / "completions" / "completions_00002.parquet")
    rewards = [f"{name}_reward" for name in run["recipe"].reward_funcs]
    assert list(frame) == expand(documented("completions.parquet"), reward=rewards)
    assert len(frame) == run["recipe"].prompts_per_step * run["recipe"].num_generations


@pytest.mark.slow
def test_transition_json_in_observe_mode(run):
    record = _json(run["dir"] / "transition.json")
    assert list(record) == documented("transition.json")
    assert record["mode"] == "observe" and record["last_step"] == 2


@pytest.mark.slow
def test_runs_csv_header(run):
    runs = pd.read_csv(run["results"] / "runs.csv")
    assert list(runs) == documented("runs.csv") and runs["status"].tolist() == ["complete"]


@pytest.mark.slow
def test_evaluation_files(run):
    out = run["eval_dir"]
    assert {p.name for p in out.iterdir()} == set(documented("evaluate-dir"))
    assert list(pd.read_csv(out / "scores.csv")) == documented("scores.csv")
    assert list(pd.read_csv(out / "timing.csv")) == documented("timing.csv")
    assert _jsonl_keys(out / "samples.jsonl") == documented("samples.jsonl")
    assert _jsonl_keys(out / "generations.jsonl") == documented("generations.jsonl")
    assert list(_json(out / "best.json")) == documented("best.json")
    assert list(pd.read_csv(out / "macro.csv")) == documented("macro.csv")
    assert list(pd.read_csv(out / "provenance.csv")) == documented("provenance.csv")
    scores = pd.read_csv(out / "scores.csv")
    assert scores[provenance.COLUMNS + ["provenance"]].notna().all().all()  # every scored row has its provenance


@pytest.mark.slow
def test_cache_key_fields(run):
    assert run["keys"] and all(sorted(k) == sorted(documented("cache-key")) for k in run["keys"])


@pytest.mark.slow
def test_cost_tables_of_the_run(run):
    assert list(run["checkpoints"]) == expand(documented("checkpoint_costs.csv"), benchmark=["tiny_eval"])
    assert run["checkpoints"]["checkpoint"].tolist() == ["base", "checkpoint-1", "checkpoint-2"]
    assert list(run["runs"]) == documented("run_costs.csv")
    assert list(run["savings"]) == documented("early_stop_savings.csv")
