"""Evaluation with the paper's protocol: presets, cached generation, grading and pass@k with standard errors.

`evaluate` generates (or reads from the JSONL cache) every (checkpoint, problem, seed, sample) completion and
grades it; `summarize` turns the graded samples into pass@k rows. The checkpoint sweep, figure and paper
comparison are in checkpoint_sweep.py. Used in: 03_evaluate (and benchmarks/bench_eval_sweep.py).
"""

import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path

import pandas as pd

from tina_utils import env
from tina_utils.data.benchmarks import PAPER_BENCHMARKS, PAPER_VALIDATION
from tina_utils.evaluate import backends, provenance, shards
from tina_utils.evaluate.adapters import check_adapter
from tina_utils.evaluate.cache import (  # noqa: F401
    GenerationCache,
    adapter_fingerprint,
    cache_key,
    generation_stack,
    merge_shards,
    sample_seed,
    shard_paths,
)
from tina_utils.evaluate.scoring import pass_at_k, stderr, summarize  # noqa: F401

PAPER_SEED = 1234  # lighteval's VLLMModelConfig default seed, used by Tina's single-run scripts


@dataclasses.dataclass(frozen=True)
class Preset:
    """Every evaluation setting; override any field with `dataclasses.replace(preset, field=value)`."""

    name: str
    benchmarks: tuple[str, ...]
    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 32768
    max_model_len: int | None = 32768  # prompt + completion cap (Tina: 32768 - prompt tokens left to generate)
    n_samples: int = 1  # samples per problem per seed
    samples_per_benchmark: tuple[tuple[str, int], ...] = ()  # (benchmark, n) pairs overriding n_samples
    seeds: tuple[int, ...] = (PAPER_SEED,)
    n_problems: int | None = None  # None: the whole benchmark
    use_chat_template: bool = True
    system_prompt: str | None = None  # None: no system turn (the paper's eval)
    dtype: str = "bfloat16"
    pass_ks: tuple[int, ...] = (1,)
    batch_size: int = 2048  # prompts per backend call: the unit that is cached before the next call starts
    max_lora_rank: int | None = None  # vLLM; None: smallest accepted value >= the adapters' ranks
    gpu_memory_utilization: float = 0.7
    double_bos: bool = False  # tokenize the chat text with special tokens too, as lighteval did: 2 BOS on R1
    grader: str = "math_verify"  # or "lighteval": lighteval 0.8.1's own extractive match (side env), as Tina graded
    merge_adapters: bool = False  # backend "auto" merges each checkpoint into the bf16 base and reloads, as Tina did
    validation: tuple[str, ...] = ()  # splits a sweep picks its checkpoint on (tina_utils.data.VALIDATION)


# Only these change what is generated; the cache key hashes them (n_samples/seeds/n_problems select entries).
GENERATION_FIELDS = ("temperature", "top_p", "max_new_tokens", "max_model_len", "use_chat_template",
                     "system_prompt", "dtype", "double_bos")
GRADERS = ("math_verify", "lighteval")

# paper: Tina's measurement (two BOS, lighteval's grader); robust: the corrected one (one BOS, math-verify 0.9.0).
PRESETS = {
    "paper": Preset("paper", PAPER_BENCHMARKS, double_bos=True, grader="lighteval", merge_adapters=True,
                    validation=PAPER_VALIDATION),
    # avg@20 on the small sets (30-40 problems), avg@5 on the large ones, where one sample per problem already
    # averages over hundreds of problems (docs/statistics.md).
    "robust": Preset("robust", PAPER_BENCHMARKS, n_samples=4, seeds=(0, 1, 2, 3, 4), pass_ks=(1, 4),
                     samples_per_benchmark=(("math_500", 1), ("gpqa_diamond", 1), ("minerva", 1)),
                     validation=PAPER_VALIDATION),
    "tiny": Preset("tiny", ("tiny_eval",), max_new_tokens=64, max_model_len=None, n_samples=4, seeds=(0,),
                   n_problems=50, dtype="float32", pass_ks=(1, 4), batch_size=100, validation=("tiny_val",)),
}


def get_preset(preset, **overrides) -> Preset:
    """A preset by name (or a Preset), with any field overridden."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            close = env.closest_first(preset, PRESETS)
            raise ValueError(f"unknown preset {preset!r}; valid names: {', '.join(close)}")
        preset = PRESETS[preset]
    if "benchmarks" in overrides and isinstance(overrides["benchmarks"], str):
        overrides["benchmarks"] = (overrides["benchmarks"],)
    for key in ("seeds", "validation"):
        if key in overrides:
            overrides[key] = tuple([overrides[key]] if isinstance(overrides[key], str) else overrides[key])
    if isinstance(overrides.get("samples_per_benchmark"), dict):
        overrides["samples_per_benchmark"] = tuple(overrides["samples_per_benchmark"].items())
    if "n_samples" in overrides and "samples_per_benchmark" not in overrides:
        overrides["samples_per_benchmark"] = ()  # an explicit n_samples means every benchmark
    preset = dataclasses.replace(preset, **overrides)
    if preset.grader not in GRADERS:
        raise ValueError(f"unknown grader {preset.grader!r}; valid: {', '.join(GRADERS)}")
    return preset


def samples_for(preset: Preset, benchmark: str) -> int:
    """Samples per problem per seed on `benchmark`: its entry in samples_per_benchmark, else n_samples."""
    return dict(preset.samples_per_benchmark).get(benchmark, preset.n_samples)


def preset_hash(preset: Preset) -> str:
    """Short hash of the generation-affecting fields only."""
    fields = {f: getattr(preset, f) for f in GENERATION_FIELDS}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


# ---------------------------------------------------------------- prompts and benchmarks
def load_rows(benchmarks, n_problems=None, data_paths: dict | None = None) -> list[dict]:
    """Canonical rows of every benchmark, as dicts; `data_paths`: local files.

    A validation split (tina_utils.data.VALIDATION) loses every problem that a test benchmark of the same call has.
    """
    from tina_utils.data.benchmarks import is_validation, load_benchmark, load_validation

    paths = data_paths or {}
    rows = [row for name in benchmarks if not is_validation(name)
            for row in load_benchmark(name, n=n_problems, path=paths.get(name)).to_list()]
    tests = [row["problem"] for row in rows]
    return rows + [row for name in benchmarks if is_validation(name)
                   for row in load_validation(name, n_problems, path=paths.get(name), exclude=tests)]


def prompt_ids(tokenizer, row: dict, preset: Preset) -> list[int]:
    """Token ids of a row's prompt: chat template with generation prompt, optional system turn."""
    messages = [m for m in row["prompt"] if m["role"] != "system"]  # the paper evaluates without one
    if preset.system_prompt:
        messages = [{"role": "system", "content": preset.system_prompt}, *messages]
    if preset.use_chat_template:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return tokenizer(text, add_special_tokens=preset.double_bos)["input_ids"]
    return tokenizer("\n\n".join(m["content"] for m in messages))["input_ids"]


# ---------------------------------------------------------------- evaluate
def _requests(model, adapters, rows, preset, backend, tokenizer):
    """One request per (checkpoint, problem, seed, sample) with its cache key."""
    phash, requests = preset_hash(preset), []
    stack = generation_stack(backend)
    ids = {row["benchmark"] + row["id"]: prompt_ids(tokenizer, row, preset) for row in rows}
    for checkpoint, path in adapters.items():
        fingerprint = adapter_fingerprint(path)
        for row in rows:
            ptoks = ids[row["benchmark"] + row["id"]]
            prompt_hash = hashlib.sha256(json.dumps(ptoks).encode()).hexdigest()[:12]
            for seed in preset.seeds:
                for sample in range(samples_for(preset, row["benchmark"])):
                    key = cache_key(model=str(model), adapter=fingerprint, checkpoint=checkpoint,
                                    benchmark=row["benchmark"], problem_id=row["id"], sample=sample, seed=seed,
                                    preset=phash, backend=backend, prompt=prompt_hash, stack=stack)
                    requests.append(dict(key=key, checkpoint=checkpoint, row=row, seed=seed, sample=sample,
                                         prompt_ids=ptoks, sample_seed=sample_seed(seed, row["id"], sample)))
    return requests


def _generate_missing(missing, model, adapters, preset, backend, cache, progress):
    """Generate uncached requests checkpoint by checkpoint; every batch is appended to the cache at once."""
    engine = backends.open_backend(backend, model, adapters, preset)
    machine = provenance.generation_record()
    try:
        for checkpoint in adapters:
            todo = [r for r in missing if r["checkpoint"] == checkpoint]
            for start in range(0, len(todo), preset.batch_size):
                batch = todo[start:start + preset.batch_size]
                began = time.time()
                outs = engine.generate(checkpoint, [r["prompt_ids"] for r in batch],
                                       [r["sample_seed"] for r in batch])
                seconds, tokens = time.time() - began, max(1, sum(o["n_tokens"] for o in outs))
                cache.put([{"key": r["key"], "checkpoint": checkpoint, "benchmark": r["row"]["benchmark"],
                            "problem_id": r["row"]["id"], "seed": r["seed"], "sample": r["sample"],
                            "backend": backend, **{k: o[k] for k in backends.RESULT_KEYS},
                            "gen_s": seconds * o["n_tokens"] / tokens, "provenance": machine}
                           for r, o in zip(batch, outs)])
                if progress:
                    where = f"[rank {env.process_rank()}] " if env.world_size() > 1 else ""
                    print(f"{where}{checkpoint}: generated {start + len(batch)}/{len(todo)}", flush=True)
    finally:
        engine.close()


def evaluate(model: str, benchmarks=None, preset="tiny", backend: str = "auto", adapters: dict | None = None,
             cache_path=None, check_base: bool = True, progress: bool = False,
             data_paths: dict | None = None) -> pd.DataFrame:
    """Graded samples (one row per checkpoint x problem x seed x sample) of `model` and its `adapters`.

    adapters: {checkpoint name: PEFT adapter dir or None for the base model}; default {"base": None}.
    data_paths: {benchmark: local file in its Hub schema} for machines without the Hub.
    Completions come from the JSONL cache at `cache_path` when present; `df.attrs` holds cache hits/misses.
    Under N launched processes each generates its share (shards.py) and only rank 0 returns the samples (others: None).
    """
    from transformers import AutoTokenizer

    from tina_utils import env, worlds

    model = worlds.resolve_model(model)
    preset = get_preset(preset) if isinstance(preset, str) else preset
    benchmarks = tuple([benchmarks] if isinstance(benchmarks, str) else benchmarks or preset.benchmarks)
    adapters = adapters or {"base": None}
    for path in adapters.values():
        if path is not None:
            check_adapter(path, model, check_base=check_base)
    backend = backends.resolve_backend("merged" if backend == "auto" and preset.merge_adapters else backend)
    rows = load_rows(benchmarks, preset.n_problems, data_paths)
    tokenizer = env.from_hub(AutoTokenizer.from_pretrained, model)
    requests = _requests(model, adapters, rows, preset, backend, tokenizer)
    rank, world = env.process_rank(), env.world_size()
    path = Path(cache_path or env.results_dir("03_evaluate", "cache") / "generations.jsonl")
    cache = GenerationCache(path, rank=rank if world > 1 else None)
    hits = sum(cache.get(r["key"]) is not None for r in requests)
    mine = [r for r in shards.my_share(requests, rank, world) if cache.get(r["key"]) is None]
    try:
        if mine:
            _generate_missing(mine, model, adapters, preset, backend, cache, progress)
    finally:
        cache.close()
    if world > 1:
        shards.wait_for_all()
        if rank != 0:
            return None  # rank 0 grades and writes the outputs
    if shard_paths(path):
        merge_shards(path)
        cache = GenerationCache(path)
    cache.hits, cache.misses = hits, len(requests) - hits
    samples = grade_samples(requests, cache)
    if preset.grader == "lighteval" and len(samples):  # Tina's grader decides; math-verify's verdict is kept beside
        from tina_utils.evaluate.lighteval_grader import add_lighteval_verdicts

        samples = add_lighteval_verdicts(samples)
        samples["correct_math_verify"], samples["correct"] = samples["correct"], samples["correct_lighteval"]
        samples["ungradable"] = samples["ungradable_lighteval"]  # the deciding grader's reason
        samples["graded"] = samples["ungradable"].isna()
    if len(samples):
        samples = provenance.stamp(samples, preset.grader, provenance.rows_sha256(rows))
    samples.attrs.update(cache_hits=cache.hits, cache_misses=cache.misses, cache_path=str(cache.path))
    return samples


def grade_samples(requests, cache) -> pd.DataFrame:
    """Grade every cached completion with its benchmark's profile (tina_utils.rewards.grading)."""
    records = []
    for r in requests:
        out = cache.get(r["key"])
        records.append(dict(checkpoint=r["checkpoint"], benchmark=r["row"]["benchmark"], problem_id=r["row"]["id"],
                            seed=r["seed"], sample=r["sample"], profile=r["row"]["profile"], gold=r["row"]["gold"],
                            completion=out["text"], n_tokens=out["n_tokens"], hit_limit=out["hit_limit"],
                            gen_s=out.get("gen_s", math.nan), **provenance.from_cache(out)))
    samples = pd.DataFrame(records)
    return grade_frame(samples) if len(samples) else samples


def grade_frame(samples: pd.DataFrame) -> pd.DataFrame:
    """Add `correct` (bool), `graded` and `ungradable` (why not: the gold is unparseable) and `extracted`.

    An ungradable row stays in the scores as incorrect and is counted (scores.csv `n_ungradable`).
    """
    from tina_utils.rewards import grading

    samples = samples.copy()
    samples["correct"], samples["graded"], samples["extracted"], samples["ungradable"] = False, True, None, None
    for profile, part in samples.groupby("profile"):
        verdicts = grading.grade_many(list(zip(part["completion"], part["gold"])), profile=profile)
        samples.loc[part.index, "correct"] = [v is True for v in verdicts]
        samples.loc[part.index, "graded"] = [v is not None for v in verdicts]
        samples.loc[part.index, "ungradable"] = [None if v is not None else
                                                 f"math-verify cannot parse the gold under profile {profile!r}"
                                                 for v in verdicts]
        samples.loc[part.index, "extracted"] = [grading.extract_answer(t, profile=profile)
                                                for t in part["completion"]]
    samples["correct"] = samples["correct"].astype(bool)
    return samples
