"""A `Recipe` mapped to TRL 1.16 `GRPOConfig` and PEFT `LoraConfig`, every value that matters set explicitly.

TRL's defaults moved since Tina's TRL 0.15 copy (loss_type dapo, beta 0, temperature 1, vLLM importance
sampling on, bias-corrected KL, log-probs of logits / temperature), so nothing here relies on a default; every
difference from Tina's trainer is a row in docs/fidelity.md. Import these from `tina_utils.train`.
"""

from tina_utils import env


def visible_world_size() -> int:
    """Number of training processes: $WORLD_SIZE set by accelerate/torchrun, else 1."""
    return env.world_size()


def batch_layout(recipe, world_size: int | None = None) -> dict:
    """Per-device batch and gradient accumulation so one optimizer step = prompts_per_step x G completions."""
    world_size = world_size or visible_world_size()
    per_step = recipe.prompts_per_step * recipe.num_generations
    per_device = recipe.per_device_batch_size or recipe.num_generations
    if per_step % world_size == 0:
        per_device = min(per_device, per_step // world_size)  # a process holds at most its share of the step
    if per_step % (per_device * world_size):
        raise ValueError(
            f"recipe {recipe.name!r}: {recipe.prompts_per_step} prompts x {recipe.num_generations} completions = "
            f"{per_step} per step cannot be split over {world_size} process(es) x {per_device} per device; use a "
            f"world size that divides {per_step // per_device} or set per_device_batch_size")
    return {"per_device_train_batch_size": per_device, "world_size": world_size,
            "gradient_accumulation_steps": per_step // (per_device * world_size), "completions_per_step": per_step}


def sampling_temperatures(recipe) -> tuple[float, dict]:
    """(GRPOConfig.temperature, generation_kwargs): TRL divides the loss logits by the first, samples with both."""
    if recipe.logprob_temperature == "sampling":
        return recipe.temperature, {}
    # Tina scored raw logits: keep TRL's loss at T = 1 and pass the sampling temperature to the generator
    # alone (vLLM SamplingParams and transformers GenerationConfig both apply generation_kwargs last).
    return 1.0, {"temperature": recipe.temperature}


def to_grpo_config(recipe, output_dir, world_size: int | None = None):
    """The TRL 1.16 `GRPOConfig` for `recipe` writing under `output_dir` (world size: visible processes)."""
    from trl import GRPOConfig

    r = recipe
    layout = batch_layout(r, world_size)
    loss_temperature, generation_kwargs = sampling_temperatures(r)
    vllm = {}
    if r.use_vllm:
        vllm = dict(vllm_mode=r.vllm_mode, vllm_gpu_memory_utilization=r.vllm_gpu_memory_utilization,
                    vllm_max_model_length=r.vllm_max_model_length, vllm_enable_sleep_mode=r.vllm_enable_sleep_mode,
                    vllm_server_base_url=r.vllm_server_base_url)
    return GRPOConfig(
        output_dir=str(output_dir), run_name=r.run_id or f"{r.name}-seed{r.seed}", seed=r.seed, data_seed=r.seed,
        # batch: per_device x world x grad_accum = prompts_per_step x G; one generation batch per optimizer step
        per_device_train_batch_size=layout["per_device_train_batch_size"],
        gradient_accumulation_steps=layout["gradient_accumulation_steps"],
        num_generations=r.num_generations, shuffle_dataset=True, remove_unused_columns=False,
        # generation (Tina: vLLM SamplingParams(temperature, max_tokens) only)
        max_completion_length=r.max_completion_length, temperature=loss_temperature,
        generation_kwargs=generation_kwargs or None, top_p=r.top_p, top_k=r.top_k, min_p=None, repetition_penalty=1.0,
        # objective: Tina's TRL 0.15 copy = per-sequence mean loss, plain k3 KL at beta 0.04, one step per batch
        loss_type=r.loss_type, beta=r.beta, scale_rewards=r.scale_rewards, num_iterations=r.num_iterations,
        use_bias_correction_kl=r.kl_bias_correction,
        epsilon=r.epsilon, mask_truncated_completions=r.mask_truncated_completions,
        reward_weights=list(r.reward_weights), multi_objective_aggregation="sum_then_normalize",
        vllm_importance_sampling_correction=False,  # Tina had no train/inference correction
        # optimisation (HF AdamW defaults of Tina's time, spelled out)
        learning_rate=r.learning_rate, lr_scheduler_type=r.lr_scheduler_type,
        lr_scheduler_kwargs={"min_lr_rate": r.min_lr_rate} if r.lr_scheduler_type == "cosine_with_min_lr" else {},
        warmup_steps=r.warmup_ratio,  # transformers 5: a float < 1 is a ratio of the total steps
        max_grad_norm=r.max_grad_norm, weight_decay=r.weight_decay, optim="adamw_torch",
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8,
        max_steps=r.max_steps if r.max_steps is not None else -1, num_train_epochs=r.num_train_epochs,
        # precision and memory
        bf16=r.bf16, fp16=False, use_cpu=r.use_cpu, gradient_checkpointing=r.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        ddp_find_unused_parameters=False,  # every LoRA weight is used; the extra graph walk only costs time
        # vLLM
        use_vllm=r.use_vllm, **vllm,
        # checkpoints and logs
        save_strategy="steps", save_steps=r.save_steps, save_total_limit=r.save_total_limit, save_only_model=False,
        logging_strategy="steps", logging_steps=r.logging_steps, logging_first_step=True,
        log_completions=r.log_completions, num_completions_to_print=r.num_completions_to_print,
        report_to=r.report_to, disable_tqdm=False, dataloader_num_workers=0,
    )


def to_lora_config(recipe):
    """The PEFT `LoraConfig` (Tina: r 32, alpha 128, dropout 0.05, bias none, all 7 projections)."""
    from peft import LoraConfig

    return LoraConfig(r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
                      bias="none", task_type="CAUSAL_LM", target_modules=list(recipe.lora_target_modules))
