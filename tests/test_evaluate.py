"""Evaluation: pass@k, grading per profile, generation cache/resume, backends, bad input, sweep.

Run: pytest tests/test_evaluate.py
"""

import importlib.util
import json
import math

import pandas as pd
import pytest
import torch

from tina_utils import env, runs
from tina_utils import evaluate as ev
from tina_utils.evaluate import adapters
from tina_utils.evaluate import backends as eb

HAS_VLLM = torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None
gpu = pytest.mark.gpu
needs_vllm = pytest.mark.skipif(not HAS_VLLM, reason="needs CUDA and vllm")
# Few problems, few tokens: enough to exercise batching, caching and grading in seconds.
SMALL = ev.get_preset("tiny", n_problems=2, n_samples=2, max_new_tokens=12, batch_size=3, pass_ks=(1, 2))


# ---------------------------------------------------------------- pass@k and errors
@pytest.mark.parametrize("n, c, k, expected", [
    (5, 0, 1, 0.0), (5, 5, 3, 1.0), (5, 2, 1, 0.4),
    (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
    (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
    (4, 1, 4, 1.0), (16, 1, 1, 1 / 16)])
def test_pass_at_k_matches_the_closed_form(n, c, k, expected):
    assert ev.pass_at_k(n, c, k) == pytest.approx(expected)
    assert ev.pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


@pytest.mark.parametrize("n, c, k", [(3, 4, 1), (3, 1, 4), (3, 1, 0)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="need 0 <= c <= n"):
        ev.pass_at_k(n, c, k)


def test_summarize_hand_computed():
    # problem p1: seed 0 -> [1, 1], seed 1 -> [1, 0]; problem p2: seed 0 -> [0, 0], seed 1 -> [1, 0]
    correct = {("p1", 0): [1, 1], ("p1", 1): [1, 0], ("p2", 0): [0, 0], ("p2", 1): [1, 0]}
    samples = pd.DataFrame([dict(checkpoint="base", benchmark="b", problem_id=p, seed=s, sample=i, correct=bool(v))
                            for (p, s), vs in correct.items() for i, v in enumerate(vs)])
    out = ev.summarize(samples, pass_ks=(1, 2, 4, 8)).set_index("metric")
    assert list(out.index) == ["pass@1", "pass@2", "pass@4"]  # pass@8 needs 8 samples per problem
    # pass@1: per-problem accuracy 3/4 and 1/4 -> 50 %; stderr over problems std([.75,.25])/sqrt(2) = .25
    assert out.loc["pass@1", "value"] == pytest.approx(50.0)
    assert out.loc["pass@1", "stderr"] == pytest.approx(25.0)
    # per seed: seed 0 -> (1 + 0)/2 = .5, seed 1 -> (.5 + .5)/2 = .5 -> no spread between seeds
    assert out.loc["pass@1", "stderr_seeds"] == pytest.approx(0.0)
    # pass@2 from n=4: p1 (c=3) -> 1; p2 (c=1) -> 1 - C(3,2)/C(4,2) = .5 -> 75 %
    assert out.loc["pass@2", "value"] == pytest.approx(75.0)
    assert out.loc["pass@4", "value"] == pytest.approx(100.0)
    assert (out.n_problems == 2).all() and (out.n_samples == 4).all()


def test_stderr():
    assert ev.stderr([1, 0, 1, 0]) == pytest.approx(math.sqrt(1 / 3) / 2)
    assert math.isnan(ev.stderr([1.0]))


# ---------------------------------------------------------------- grading of recorded completions
RECORDED = [  # (profile, completion, gold, hand-graded verdict, extracted answer)
    ("expr", "<think>\nsum\n</think>\nTherefore, the final answer is: $\\boxed{204}$. I hope it is correct",
     "204", True, "204"),
    ("expr", "so the answer is \\boxed{203}", "204", False, "203"),
    ("expr", "<think>\n3+4=7\n7+5=12\n</think>\n\\boxed{12}", "12", True, "12"),
    ("latex", "Thus $\\boxed{\\frac{1}{2}}$.", "The answer is $\\boxed{\\frac12}$", True, "\\frac{1}{2}"),
    ("latex", "Thus $\\boxed{\\frac{1}{3}}$.", "The answer is $\\boxed{\\frac12}$", False, "\\frac{1}{3}"),
    ("letter", "Reasoning...\nAnswer: B", "B", True, "B"),
    ("letter", "Reasoning...\nAnswer: C", "B", False, "C"),
]


def test_recorded_completions_match_hand_grading():
    samples = pd.DataFrame([dict(profile=p, completion=t, gold=g) for p, t, g, _, _ in RECORDED])
    graded = ev.grade_frame(samples)
    assert graded["correct"].tolist() == [r[3] for r in RECORDED]
    assert graded["graded"].all()
    assert graded["extracted"].tolist() == [r[4] for r in RECORDED]


# ---------------------------------------------------------------- fixtures: tiny world + fake checkpoints
def _save_adapter(base_path, out_dir, seed, r=4, base_name=None, model=None):
    """A random LoRA adapter (non-zero B, so it changes outputs) saved like a TRL checkpoint's adapter."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = model or AutoModelForCausalLM.from_pretrained(base_path)
    config = LoraConfig(r=r, lora_alpha=r, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    peft_model.peft_config["default"].base_model_name_or_path = base_name or str(base_path)
    peft_model.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A random tiny Qwen2 base (the tiny world's tokenizer, no warm start) and a fake run with two checkpoints."""
    from tina_utils.worlds import tiny

    base = tmp_path_factory.mktemp("world") / "tiny-random"
    tokenizer = tiny.make_tokenizer()
    tiny.make_model(tokenizer, seed=0).save_pretrained(base)
    tokenizer.save_pretrained(base)
    run_dir = tmp_path_factory.mktemp("02_train") / "tiny-fake"
    for step, seed in [(10, 1), (20, 2)]:
        _save_adapter(base, run_dir / f"checkpoint-{step}", seed)
    (run_dir / "recipe.yaml").write_text(f"model: {base}\n")
    return {"base": str(base), "run_dir": run_dir, "adapters": {
        "base": None, "checkpoint-10": run_dir / "checkpoint-10", "checkpoint-20": run_dir / "checkpoint-20"}}


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def _evaluate(world, cache, preset=SMALL, backend="transformers", only=None):
    adapters = {k: v for k, v in world["adapters"].items() if only is None or k in only}
    return ev.evaluate(world["base"], ["tiny_eval"], preset, backend, adapters, cache_path=cache)


# ---------------------------------------------------------------- cache and resume
@pytest.mark.slow
def test_kill_midway_then_rerun_regenerates_nothing_cached(world, tmp_path, monkeypatch, results):
    full = _evaluate(world, tmp_path / "full.jsonl")
    assert full.attrs["cache_misses"] == 12 and full.attrs["cache_hits"] == 0  # 3 checkpoints x 2 problems x 2
    assert {"checkpoint", "benchmark", "problem_id", "seed", "sample", "completion", "n_tokens", "hit_limit",
            "correct", "extracted", "graded"} <= set(full.columns)
    assert full.groupby("checkpoint").size().to_dict() == {"base": 4, "checkpoint-10": 4, "checkpoint-20": 4}

    opener, calls = eb.BACKENDS["transformers"], {"n": 0}

    def crashing(*args):
        backend = opener(*args)
        inner = backend.generate

        def generate(*a):
            calls["n"] += 1
            if calls["n"] == 3:  # base: batches of 3 + 1 done, the first batch of checkpoint-10 dies
                raise RuntimeError("simulated kill")
            return inner(*a)
        backend.generate = generate
        return backend

    monkeypatch.setitem(eb.BACKENDS, "transformers", crashing)
    with pytest.raises(RuntimeError, match="simulated kill"):
        _evaluate(world, tmp_path / "resumed.jsonl")
    assert len((tmp_path / "resumed.jsonl").read_text().splitlines()) == 4
    monkeypatch.setitem(eb.BACKENDS, "transformers", opener)

    resumed = _evaluate(world, tmp_path / "resumed.jsonl")
    assert (resumed.attrs["cache_hits"], resumed.attrs["cache_misses"]) == (4, 8)
    again = _evaluate(world, tmp_path / "resumed.jsonl")
    assert (again.attrs["cache_hits"], again.attrs["cache_misses"]) == (12, 0)
    for other in (resumed, again):
        assert other["completion"].tolist() == full["completion"].tolist()
        pd.testing.assert_frame_equal(ev.summarize(other, (1, 2)), ev.summarize(full, (1, 2)))


@pytest.mark.slow
def test_a_changed_setting_regenerates_only_what_it_affects(world, tmp_path, results):
    cache, two = tmp_path / "cache.jsonl", ("base", "checkpoint-10")
    first = _evaluate(world, cache, only=two)
    assert first.attrs["cache_misses"] == 8
    more_samples = _evaluate(world, cache, ev.get_preset(SMALL, n_samples=3), only=two)  # samples 0-1 reused
    assert (more_samples.attrs["cache_hits"], more_samples.attrs["cache_misses"]) == (8, 4)
    more_problems = _evaluate(world, cache, ev.get_preset(SMALL, n_problems=3), only=two)  # problem 3 is new
    assert (more_problems.attrs["cache_hits"], more_problems.attrs["cache_misses"]) == (8, 4)
    new_checkpoint = _evaluate(world, cache)  # only checkpoint-20 is new
    assert (new_checkpoint.attrs["cache_hits"], new_checkpoint.attrs["cache_misses"]) == (8, 4)
    not_generation = _evaluate(world, cache, ev.get_preset(SMALL, batch_size=7, pass_ks=(1,)), only=two)
    assert not_generation.attrs["cache_misses"] == 0
    hotter = _evaluate(world, cache, ev.get_preset(SMALL, temperature=1.0), only=two)
    assert hotter.attrs["cache_misses"] == 8
    assert ev.preset_hash(SMALL) != ev.preset_hash(ev.get_preset(SMALL, temperature=1.0))
    assert ev.preset_hash(SMALL) == ev.preset_hash(ev.get_preset(SMALL, seeds=(5,), n_samples=9))


def test_a_retrained_checkpoint_with_the_same_name_is_not_served_from_the_cache(world, tmp_path, results):
    cache = tmp_path / "cache.jsonl"
    adapters = {"checkpoint-10": world["adapters"]["checkpoint-10"]}
    ev.evaluate(world["base"], ["tiny_eval"], SMALL, "transformers", adapters, cache_path=cache)
    retrained = _save_adapter(world["base"], tmp_path / "checkpoint-10", seed=9)
    out = ev.evaluate(world["base"], ["tiny_eval"], SMALL, "transformers", {"checkpoint-10": retrained},
                      cache_path=cache)
    assert out.attrs["cache_misses"] == 4


# ---------------------------------------------------------------- backends
def _check_schema(outs, n):
    assert len(outs) == n
    for out in outs:
        assert set(out) == set(eb.RESULT_KEYS)
        assert isinstance(out["text"], str) and isinstance(out["n_tokens"], int)
        assert isinstance(out["hit_limit"], bool) and 1 <= out["n_tokens"] <= SMALL.max_new_tokens
        if out["n_tokens"] < SMALL.max_new_tokens:
            assert not out["hit_limit"]  # it stopped at end-of-sequence


def _prompts(world, n=3):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(world["base"])
    return [ev.prompt_ids(tokenizer, row, SMALL) for row in ev.load_rows(["tiny_eval"], n)]


@pytest.mark.slow
def test_transformers_and_merged_backends_share_one_schema_and_samples(world):
    prompts, seeds = _prompts(world), [11, 12, 13]  # checkpoint-10 -> -20 switches adapters; base after both
    switching = eb.open_backend("transformers", world["base"], world["adapters"], SMALL)
    merged = eb.open_backend("merged_transformers", world["base"], world["adapters"], SMALL)
    for name in ["checkpoint-10", "checkpoint-20", "base"]:
        a, b = switching.generate(name, prompts, seeds), merged.generate(name, prompts, seeds)
        _check_schema(a, 3)
        _check_schema(b, 3)
        assert [o["text"] for o in a] == [o["text"] for o in b]  # merged == adapter (float32, same seeds)
    merged.close()
    assert not list((eb.env.tina_home() / "merged").glob("checkpoint-*"))  # merged copies are cleaned up


def test_a_sample_depends_on_its_seed_not_on_its_batch(world):
    prompts = _prompts(world)
    backend = eb.open_backend("transformers", world["base"], world["adapters"], SMALL)
    together = backend.generate("checkpoint-10", prompts, [1, 2, 3])
    alone = backend.generate("checkpoint-10", prompts[2:], [3])
    assert together[2] == alone[0]
    seeds = [4, 5, 6]
    assert backend.generate("checkpoint-10", prompts, seeds) != backend.generate("checkpoint-20", prompts, seeds)


@gpu
@needs_vllm
def test_vllm_backend_matches_the_transformers_schema(world):
    preset = ev.get_preset(SMALL, dtype="float32", gpu_memory_utilization=0.3)
    backend = eb.open_backend("vllm", world["base"], world["adapters"], preset)
    for name in world["adapters"]:
        _check_schema(backend.generate(name, _prompts(world), [1, 2, 3]), 3)
    backend.close()


# ---------------------------------------------------------------- bad input
def test_missing_checkpoint_path(world, tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint path .*checkpoint-99 does not exist"):
        ev.evaluate(world["base"], ["tiny_eval"], SMALL, "transformers", {"x": tmp_path / "checkpoint-99"})
    (tmp_path / "checkpoint-5").mkdir()
    with pytest.raises(FileNotFoundError, match="no adapter_config.json"):
        adapters.check_adapter(tmp_path / "checkpoint-5", world["base"])


@pytest.mark.filterwarnings("ignore:Could not find a config file")  # PEFT looks the fake base name up
def test_adapter_for_a_different_base_model(world, tmp_path):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from tina_utils.worlds import tiny

    other = _save_adapter(world["base"], tmp_path / "other", 3, base_name="Qwen/Qwen2.5-Math-1.5B")
    with pytest.raises(ValueError, match="trained on base model 'Qwen/Qwen2.5-Math-1.5B'"):
        adapters.check_adapter(other, world["base"])
    # same name, different shapes: an adapter from a wider model
    config = {**tiny.MODEL_CONFIG, "hidden_size": 64, "intermediate_size": 96}
    wide = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tiny.make_tokenizer()), **config))
    misfit = _save_adapter(world["base"], tmp_path / "misfit", 3, model=wide)
    with pytest.raises(ValueError, match="LoRA weights have wrong shapes"):
        adapters.check_adapter(misfit, world["base"])
    assert adapters.check_adapter(world["adapters"]["checkpoint-10"], world["base"])["r"] == 4


def test_local_copies_of_the_base_model_are_accepted():
    assert adapters._same_model("/ckpt/models/DeepSeek-R1-Distill-Qwen-1.5B/base",
                          "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")
    assert not adapters._same_model("Qwen/Qwen2.5-Math-1.5B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")


@pytest.mark.parametrize("ranks, expected", [([4], 8), ([32], 32), ([16, 33], 64), ([128], 128), ([300], 320)])
def test_max_lora_rank_is_the_smallest_accepted_value(ranks, expected):
    assert adapters.choose_max_lora_rank(ranks) == expected


def test_rank_above_max_lora_rank():
    with pytest.raises(ValueError, match="LoRA rank 64, above max_lora_rank=32; set max_lora_rank=64"):
        adapters.choose_max_lora_rank([32, 64], requested=32)
    with pytest.raises(ValueError, match="not accepted by vLLM"):
        adapters.choose_max_lora_rank([8], requested=24)
    with pytest.raises(ValueError, match="above vLLM's largest max_lora_rank 512"):
        adapters.choose_max_lora_rank([1024])


def test_gated_dataset_without_a_token(monkeypatch):
    from tina_utils.data import sources

    monkeypatch.setattr(sources, "has_token", lambda: False)
    with pytest.raises(PermissionError, match="Idavidrein/gpqa is a gated dataset and no Hugging Face token"):
        ev.load_rows(["gpqa_diamond"])


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown preset 'papr'; valid names: paper"):
        ev.get_preset("papr")
    with pytest.raises(ValueError, match="unknown backend 'vlm'; valid names: vllm"):
        eb.resolve_backend("vlm")


def test_presets_follow_the_paper():
    paper = ev.PRESETS["paper"]
    assert (paper.temperature, paper.top_p, paper.max_new_tokens, paper.n_samples, paper.seeds) == (
        0.6, 0.95, 32768, 1, (1234,))
    assert paper.use_chat_template and paper.system_prompt is None
    assert len(paper.benchmarks) == 6
    assert ev.get_preset("paper", seeds=[0, 1]).seeds == (0, 1)


# ---------------------------------------------------------------- sweep (slow: evaluates every checkpoint)
@pytest.mark.slow
def test_sweep_writes_scores_timing_best_and_figure(world, results):
    out = ev.sweep(world["run_dir"], ["tiny_eval"], SMALL, "transformers")
    scores = pd.read_csv(results / "03_evaluate" / "tiny-fake" / "scores.csv")
    assert list(scores.columns) == ev.SCORE_COLUMNS
    assert scores.checkpoint.tolist() == ["base", "base", "checkpoint-10", "checkpoint-10", "checkpoint-20",
                                          "checkpoint-20"]
    assert scores.step.tolist() == [0, 0, 10, 10, 20, 20] and set(scores.metric) == {"pass@1", "pass@2"}
    assert ((scores.value >= 0) & (scores.value <= 100)).all() and (scores.n_problems == 2).all()
    timing = pd.read_csv(results / "03_evaluate" / "tiny-fake" / "timing.csv")
    assert list(timing.columns) == ev.TIMING_COLUMNS and len(timing) == 6  # 3 checkpoints x (tiny_eval, tiny_val)
    assert (timing.n_generated_tokens > 0).all() and (timing.wall_clock_s > 0).all()
    best = json.loads((results / "03_evaluate" / "tiny-fake" / "best.json").read_text())
    assert best["checkpoint"] in ("checkpoint-10", "checkpoint-20") and best == out.best
    assert best["rule"].startswith("validation: the highest mean pass@1 on tiny_val")
    checked = pd.read_csv(results / "03_evaluate" / "tiny-fake" / "validation_scores.csv").query("metric == 'pass@1'")
    assert set(checked.benchmark) == {"tiny_val"} and set(scores.benchmark) == {"tiny_eval"}
    assert best["validation_average"] == checked.set_index("checkpoint").value[best["checkpoint"]]
    assert best["gap"] == best["oracle_average"] - best["average"] >= 0
    assert out.figure.exists() and out.cache_misses == 24  # the validation split is generated too
    # every scored row says where it came from: this machine, this process, the installed stack
    assert set(scores.device) == {env.hardware()} and set(scores.n_processes) == {1}
    assert f"torch={torch.__version__}" in scores.versions[0] and "math-verify=" in scores.versions[0]
    assert scores.seeds.astype(str).tolist() == ["0"] * 6 and scores.n_ungradable.tolist() == [0] * 6
    provenance = pd.read_csv(results / "03_evaluate" / "tiny-fake" / "provenance.csv")
    samples = pd.read_json(results / "03_evaluate" / "tiny-fake" / "samples.jsonl", lines=True)
    assert set(samples.provenance) == set(provenance.provenance)  # tiny_eval and tiny_val: one data hash each
    assert set(samples[samples.benchmark == "tiny_eval"].provenance) == set(scores.provenance)
    assert scores.gain.isna().tolist() == [True, True, False, False, False, False]
    macro = pd.read_csv(results / "03_evaluate" / "tiny-fake" / "macro.csv")
    by = ["checkpoint", "metric"]  # one benchmark: its average is its score
    assert macro.set_index(by).value.sort_index().tolist() == scores.set_index(by).value.sort_index().tolist()
    again = ev.sweep(world["run_dir"], ["tiny_eval"], SMALL, "transformers")
    assert (again.cache_hits, again.cache_misses) == (24, 0)
    pd.testing.assert_frame_equal(again.scores, out.scores)


def test_best_checkpoint_uses_the_benchmark_average_and_the_earliest_tie():
    scores = pd.DataFrame([("base", "a", 10.0), ("base", "b", 10.0), ("checkpoint-5", "a", 30.0),
                           ("checkpoint-5", "b", 10.0), ("checkpoint-10", "a", 10.0), ("checkpoint-10", "b", 30.0),
                           ("checkpoint-15", "a", 15.0), ("checkpoint-15", "b", 15.0)],
                          columns=["checkpoint", "benchmark", "value"]).assign(metric="pass@1")
    best = ev.best_checkpoint(scores)
    assert (best["checkpoint"], best["step"], best["average"], best["beats_base"]) == ("checkpoint-5", 5, 20.0, True)


def test_incomplete_checkpoints_are_skipped(world, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(world["adapters"]["checkpoint-10"], run / "checkpoint-10")
    (run / "checkpoint-20").mkdir(parents=True)
    (run / "checkpoint-20" / "adapter_config.json").write_text("{}")
    assert list(runs.find_checkpoints(run)) == ["checkpoint-10"]
    assert "skipping incomplete checkpoints: checkpoint-20" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="run directory .* does not exist"):
        runs.find_checkpoints(tmp_path / "nope")


def test_compare_to_paper_puts_our_rows_next_to_the_papers(results):
    scores = pd.DataFrame([(c, b, v) for c, v in [("base", 20.0), ("checkpoint-450", 40.0)]
                           for b in ev.PAPER_BENCHMARKS], columns=["checkpoint", "benchmark", "value"])
    table = ev.compare_to_paper(scores.assign(metric="pass@1"), "checkpoint-450")
    assert list(table.columns) == ["aime24", "aime25", "amc23", "math500", "gpqa", "minerva", "avg"]
    assert table.loc["ours: checkpoint-450", "avg"] == 40.0 and table.loc["ours: base", "gpqa"] == 20.0
    assert table.loc["Tina-Open-RS2", "avg"] == 50.60
    assert table.loc["DeepSeek-R1-Distill-Qwen-1.5B", "aime24"] == 23.33
    tiny_only = scores.assign(benchmark="tiny_eval", metric="pass@1")
    assert ev.compare_to_paper(tiny_only, "checkpoint-450") is None
