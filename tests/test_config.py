"""Recipes and config mapping: every YAML loads and maps to TRL/PEFT; paper values pinned; bad input fails early.

Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_config.py -q
"""

import warnings

import pytest

from tina_utils.train import batch_layout, config, load_recipe, to_grpo_config, to_lora_config

SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
EXPERIMENTS = ["still", "deepscaler", "open_rs1", "open_rs2", "open_rs3", "2thought", "limr", "open_r1", "thoughts",
               "fastcurl", "l1_exact", "l1_max", "limr_lr_5e-6", "limr_lr_5e-7", "limr_rank_4", "limr_rank_8",
               "limr_rank_16", "limr_rank_64", "limr_rank_128_released", "open_rs3_drgrpo", "open_rs3_format_only",
               "open_rs3_long_completion"]


@pytest.fixture
def gpu_args(monkeypatch):
    """Let bf16 GRPOConfigs build on a CPU-only machine (transformers checks for a bf16 GPU)."""
    import transformers.training_args as ta

    monkeypatch.setattr(ta, "is_torch_bf16_gpu_available", lambda: True)


def test_every_experiment_and_profile_has_a_recipe():
    assert set(EXPERIMENTS + ["tina", "tiny"]) <= set(config.list_recipes())


@pytest.mark.parametrize("name", config.list_recipes())
def test_recipe_loads_and_maps(name, tmp_path, gpu_args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no shipped recipe may trip the vLLM-cap warning
        recipe = load_recipe(name)
    args = to_grpo_config(recipe, tmp_path, world_size=1)
    lora = to_lora_config(recipe)
    assert args.num_generations == recipe.num_generations
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps == \
        recipe.prompts_per_step * recipe.num_generations
    assert recipe.prompts_per_step == 8 or recipe.model == "tina-tiny"  # the tiny world takes 4 prompts per step
    assert lora.r == recipe.lora_r and lora.lora_alpha == recipe.lora_alpha
    assert args.vllm_importance_sampling_correction is False
    assert args.num_iterations == 1 and args.logging_steps == 1 and args.report_to == []


@pytest.mark.parametrize("name", [n for n in EXPERIMENTS])
def test_paper_recipes_share_tina_invariants(name):
    r = load_recipe(name)
    assert (r.temperature, r.top_p, r.top_k, r.beta, r.max_completion_length >= 3584) == (0.7, 1.0, 0, 0.04, True)
    assert (r.prompts_per_step, r.seed, r.max_prompt_length, r.transition_mode) == (8, 42, 512, "off")
    assert r.lora_alpha == 4 * r.lora_r and r.lora_target_modules == SEVEN and r.lora_dropout == 0.05
    assert r.model == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B" and r.use_vllm and r.bf16


@pytest.mark.parametrize("name,rewards,cosine_len", [
    ("open_rs2", ["format", "accuracy"], 1000), ("open_rs3", ["format", "cosine"], 3584)])
def test_open_rs_paper_values_pinned(name, rewards, cosine_len, tmp_path, gpu_args):
    r = load_recipe(name)
    assert (r.dataset, r.reward_funcs, r.reward_weights, r.cosine_max_len) == ("open_rs", rewards, [1.0, 2.0],
                                                                                cosine_len)
    args = to_grpo_config(r, tmp_path, world_size=1)
    lora = to_lora_config(r)
    assert (lora.r, lora.lora_alpha, lora.lora_dropout, lora.bias) == (32, 128, 0.05, "none")
    assert set(lora.target_modules) == set(SEVEN) and lora.task_type == "CAUSAL_LM"
    assert args.learning_rate == 1e-6 and args.lr_scheduler_type == "cosine_with_min_lr"
    assert args.lr_scheduler_kwargs == {"min_lr_rate": 0.1} and args.warmup_steps == 0.1
    assert args.get_warmup_steps(args.max_steps) == 150  # 10% of the stretched 1500
    assert (args.max_steps, r.stop_at_step, args.save_steps, args.save_total_limit) == (1500, 850, 50, 100)
    # 8 prompts x G=6 = 48 completions per optimizer step on one GPU
    assert (args.num_generations, args.per_device_train_batch_size, args.gradient_accumulation_steps) == (6, 6, 8)
    assert args.generation_batch_size == 48 and args.steps_per_generation == 8
    # sampling at T 0.7, loss and KL on raw logits (TRL divides its loss logits by args.temperature), plain k3 KL
    assert (args.temperature, args.generation_kwargs) == (1.0, {"temperature": 0.7})
    assert (args.top_p, args.top_k, args.max_completion_length) == (1.0, 0, 3584)
    assert (args.loss_type, args.beta, args.scale_rewards, args.epsilon) == ("grpo", 0.04, "group", 0.2)
    assert args.use_bias_correction_kl is False
    assert args.reward_weights == [1.0, 2.0] and args.max_grad_norm == 1.0 and args.seed == 42
    assert args.bf16 and args.gradient_checkpointing and args.gradient_checkpointing_kwargs == {"use_reentrant": False}
    assert args.use_vllm and args.vllm_mode == "colocate" and args.vllm_gpu_memory_utilization == 0.4
    assert args.vllm_max_model_length == 4608 and args.log_completions


@pytest.mark.parametrize("world,accum", [(1, 8), (2, 4), (4, 2), (8, 1)])
def test_world_size_keeps_eight_prompts_per_step(world, accum):
    layout = batch_layout(load_recipe("open_rs2"), world)
    assert (layout["per_device_train_batch_size"], layout["gradient_accumulation_steps"]) == (6, accum)
    assert layout["per_device_train_batch_size"] * world * layout["gradient_accumulation_steps"] == 48


def test_world_size_that_cannot_split_eight_prompts_fails():
    with pytest.raises(ValueError, match=r"48 per step cannot be split over 3 process"):
        batch_layout(load_recipe("open_rs2"), 3)


def test_world_size_comes_from_the_launcher(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert batch_layout(load_recipe("limr"))["gradient_accumulation_steps"] == 4  # Tina's 2 GPUs x accum 4


def test_tiny_recipe_is_cpu_and_one_micro_batch(tmp_path):
    r = load_recipe("tiny")
    args = to_grpo_config(r, tmp_path, world_size=1)
    assert (args.use_cpu, args.bf16, args.use_vllm, r.model, r.dataset) == (True, False, False, "tina-tiny", "tiny")
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps, args.num_generations) == (32, 1, 8)
    assert r.reward_funcs == ["format", "accuracy"]


def test_misspelled_key_names_the_closest_valid_one(tmp_path):
    bad = tmp_path / "drgrpo_released.yaml"
    bad.write_text("base: open_rs3\nscale_reward: false\n")  # Tina's released Dr.GRPO bug
    with pytest.raises(KeyError, match=r"'scale_reward' in drgrpo_released.yaml \(did you mean 'scale_rewards'\?\)"):
        load_recipe(bad)
    with pytest.raises(KeyError, match="did you mean 'learning_rate'"):
        load_recipe("tiny", learning_rat=0.1)


def test_unknown_recipe_lists_close_names():
    with pytest.raises(ValueError, match="did you mean 'open_rs2'"):
        load_recipe("open_rs22")


@pytest.mark.parametrize("override,message", [
    ({"learning_rate": -1e-6}, "learning_rate must be > 0"),
    ({"num_generations": 1}, "num_generations must be >= 2"),
    ({"per_device_batch_size": 5}, r"per_device_batch_size \(5\) must divide prompts_per_step x num_generations = 32"),
    ({"stop_at_step": 100}, r"stop_at_step \(100\) must be <= max_steps \(75\)"),  # tiny.yaml: 75 steps
    ({"reward_funcs": "format,acuracy", "reward_weights": "1,2"}, "unknown reward 'acuracy' .*did you mean 'accuracy'"),
    ({"reward_weights": [1.0]}, "reward_weights has 1 entries but reward_funcs has 2"),
    ({"loss_type": "grp"}, "did you mean 'grpo'"),
    ({"use_vllm": True}, "use_vllm must be false when use_cpu is true"),
    ({"transition_mode": "stopp"}, "did you mean 'stop'"),
])
def test_bad_values_fail_before_any_model_load(override, message, monkeypatch):
    import transformers

    def no_load(*a, **k):
        raise AssertionError("model loaded")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_load)
    with pytest.raises(ValueError, match=message):
        load_recipe("tiny", **override)


def test_wrong_type_fails():
    with pytest.raises(TypeError, match="'num_generations' must be int, got 'six'"):
        load_recipe("tiny", num_generations="six")


def test_cli_strings_are_parsed_as_yaml():
    r = load_recipe("tiny", learning_rate="5e-4", max_steps="12", use_vllm="false", dataset_n="null",
                    reward_weights="1, 2")
    assert (r.learning_rate, r.max_steps, r.use_vllm, r.dataset_n, r.reward_weights) == (5e-4, 12, False, None,
                                                                                         [1.0, 2.0])


def test_base_chain_resolves_through_two_levels():
    r = load_recipe("thoughts")  # thoughts -> open_r1 -> tina
    assert (r.base, r.dataset, r.num_generations, r.vllm_gpu_memory_utilization) == ("open_r1", "thoughts", 8, 0.6)
    assert r.max_steps is None and r.stop_at_step is None and r.vllm_max_model_length is None
    assert len(r.reward_funcs) == 7 and r.reward_weights == [1.0] * 7 and r.lora_r == 32


def test_rank_ablations_and_released_mislabel():
    ranks = {n: (load_recipe(n).lora_r, load_recipe(n).lora_alpha) for n in
             ["limr_rank_4", "limr_rank_8", "limr_rank_16", "limr", "limr_rank_64", "limr_rank_128_released"]}
    assert list(ranks.values()) == [(4, 16), (8, 32), (16, 64), (32, 128), (64, 256), (128, 512)]
    assert load_recipe("limr_lr_5e-6").learning_rate == 5e-6 and load_recipe("limr_lr_5e-7").learning_rate == 5e-7


def test_drgrpo_is_really_drgrpo(tmp_path, gpu_args):
    r = load_recipe("open_rs3_drgrpo")
    args = to_grpo_config(r, tmp_path, world_size=1)
    assert (args.scale_rewards, args.loss_type) == ("none", "bnpo")
    # per-device batch = G completions of one prompt: bnpo normalises over exactly Tina's micro-batch
    assert args.per_device_train_batch_size == r.num_generations
    assert config.diff(r) == {"loss_type": ("grpo", "bnpo"), "scale_rewards": ("group", "none")}


def test_trl_objective_flags_switch_back_to_trl_behaviour(tmp_path, gpu_args):
    r = load_recipe("open_rs2", logprob_temperature="sampling", kl_bias_correction=True)
    args = to_grpo_config(r, tmp_path, world_size=1)
    assert (args.temperature, args.generation_kwargs, args.use_bias_correction_kl) == (0.7, None, True)


def _saves_until_stop(recipe) -> int:
    """How many checkpoints a run writes up to its last step (plus the forced transition checkpoint)."""
    from tina_utils.data import TRAIN_DATASETS

    steps = recipe.stop_at_step or recipe.max_steps
    if steps is None:  # one epoch: prompts / prompts per step
        steps = -(-int(TRAIN_DATASETS[recipe.dataset]["rows"] * recipe.num_train_epochs) // recipe.prompts_per_step)
    return -(-steps // recipe.save_steps) + (recipe.transition_mode != "off")


@pytest.mark.parametrize("name", config.list_recipes())
def test_checkpoint_rotation_never_deletes_a_checkpoint_before_the_stop(name):
    r = load_recipe(name)
    assert r.save_total_limit is None or _saves_until_stop(r) <= r.save_total_limit, (
        f"{name}: {_saves_until_stop(r)} checkpoints until the stop, save_total_limit {r.save_total_limit}")


def test_paper_best_checkpoints_are_saved():
    best = {"open_rs2": 450, "open_rs3": 500, "still": 2000, "deepscaler": 1000, "limr": 100, "open_r1": 1500}
    for name, step in best.items():
        assert step % load_recipe(name).save_steps == 0, name


def test_long_completion_cap_fixed_and_released_cap_warns():
    r = load_recipe("open_rs3_long_completion")
    assert r.max_completion_length == 8960 and r.vllm_max_model_length == 512 + 8960
    with pytest.warns(UserWarning, match="vLLM cuts completions near 4096 tokens"):
        load_recipe("open_rs3_long_completion", vllm_max_model_length=4608)


def test_scale_rewards_accepts_trl_bool_spelling():
    assert load_recipe("open_rs3", scale_rewards=False).scale_rewards == "none"
    assert load_recipe("open_rs3", scale_rewards="true").scale_rewards == "group"


def test_describe_shows_delta_over_base():
    text = config.describe(load_recipe("open_rs2"))
    assert "num_generations" in text and "4 -> 6" in text and "8 prompts x 6 completions" in text


@pytest.mark.parametrize("variant,base,fields", [
    ("open_rs2_early_stop", "open_rs2", {"transition_mode", "transition_min_steps", "transition_confirm_steps"}),
    ("tiny_early_stop", "tiny", {"transition_mode"})])
def test_early_stop_variants_change_only_the_transition_fields(variant, base, fields, tmp_path, gpu_args):
    changed = config.diff(load_recipe(variant), load_recipe(base))
    assert set(changed) == fields and changed["transition_mode"] in {("off", "stop"), ("observe", "stop")}
    paper = to_grpo_config(load_recipe(base), tmp_path).to_dict()
    stopping = to_grpo_config(load_recipe(variant), tmp_path).to_dict()
    assert {k: v for k, v in paper.items() if k != "run_name"} == \
        {k: v for k, v in stopping.items() if k != "run_name"}  # same trainer config; only the callback differs


def test_stop_on_transition_is_an_alias_of_transition_mode(tmp_path):
    assert load_recipe("tiny", stop_on_transition=True).transition_mode == "stop"
    assert load_recipe("tiny", stop_on_transition="false").transition_mode == "off"  # CLI string
    path = tmp_path / "mine.yaml"
    path.write_text("base: open_rs2\nstop_on_transition: true\n")
    assert load_recipe(path).transition_mode == "stop"


def test_paper_recipes_have_the_transition_callback_off_and_tiny_observes():
    for name in config.list_recipes():
        mode = load_recipe(name).transition_mode
        expected = "stop" if name.endswith("early_stop") else "observe" if name == "tiny" else "off"
        assert mode == expected, name
