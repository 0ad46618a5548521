"""A `Recipe` mapped to TRL 1.16 `GRPOConfig` and PEFT `LoraConfig`, and every `GRPOConfig` field classified.

TRL's defaults moved since Tina's TRL 0.15 copy (loss_type dapo, beta 0, temperature 1, vLLM importance
sampling on, bias-corrected KL, log-probs of logits / temperature). So each `GRPOConfig` field is either set by
`grpo_kwargs`, or left at a TRL default that is Tina's value (`REQUIRED`, with the value and why), or has no effect
on what is trained (`IRRELEVANT`, with the reason); tests/test_grpo_fields.py fails on a field in none of them and
on a moved default. Every difference from Tina's trainer is a row in docs/fidelity.md. Import these from
`tina_utils.train`.
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

    return GRPOConfig(**grpo_kwargs(recipe, output_dir, world_size))


def grpo_kwargs(recipe, output_dir, world_size: int | None = None) -> dict:
    """The `GRPOConfig` fields the mapping sets; every other field is in `REQUIRED` or `IRRELEVANT`."""
    r = recipe
    layout = batch_layout(r, world_size)
    loss_temperature, generation_kwargs = sampling_temperatures(r)
    vllm = {}
    if r.use_vllm:
        vllm = dict(vllm_mode=r.vllm_mode, vllm_gpu_memory_utilization=r.vllm_gpu_memory_utilization,
                    vllm_max_model_length=r.vllm_max_model_length, vllm_enable_sleep_mode=r.vllm_enable_sleep_mode,
                    vllm_server_base_url=r.vllm_server_base_url)
    return dict(
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


# Fields `grpo_kwargs` leaves at TRL 1.16's default because that default is what Tina's trainer did:
# {field: (Tina's value, why)}. tests/test_grpo_fields.py compares each with TRL's default.
REQUIRED = {
    "steps_per_generation": (None, "None = gradient_accumulation_steps: one generation batch per optimizer step"),
    "generation_batch_size": (None, "None = per-device batch x processes x steps_per_generation = 8 prompts x G"),
    "disable_dropout": (False, "Tina's loss forward pass kept LoRA dropout (0.05) on"),
    "cast_lm_head_to_fp32": (False, "Tina computed logits in the model's dtype (bf16)"),
    "importance_sampling_level": ("token", "per-token ratio exp(logp - logp.detach()), as Tina's"),
    "delta": (None, "no upper clip of the ratio (Tina clipped nothing)"),
    "epsilon_high": (None, "upper clip = epsilon; at num_iterations 1 the ratio is 1 and no clip acts"),
    "off_policy_mask_threshold": (None, "no off-policy sequence masking"),
    "top_entropy_quantile": (1.0, "every completion token is in the loss"),
    "entropy_coef": (0.0, "no entropy bonus"),
    "use_adaptive_entropy": (False, "no entropy bonus"),
    "sync_ref_model": (False, "the KL reference stays the adapter-free base model"),
    "chat_template_kwargs": (None, "prompts are the chat template's rendering alone"),
    "vllm_model_impl": ("vllm", "rollouts from vLLM's own Qwen2 implementation, as Tina's vLLM 0.7.2"),
    "vllm_structured_outputs_regex": (None, "unconstrained sampling"),
    "use_transformers_continuous_batching": (False, "CPU rollouts through transformers' generate"),
    "use_transformers_paged": (False, "deprecated spelling of use_transformers_continuous_batching"),
    "use_liger_kernel": (False, "Liger's fused GRPO loss would replace the loss checked against Tina's"),
    "neftune_noise_alpha": (None, "no noise on the input embeddings"),
    "optim_args": (None, "AdamW with only the betas, epsilon and weight decay set here"),
    "torch_compile": (False, "eager PyTorch, as Tina"),
    "torch_compile_backend": (None, "setting it turns torch_compile on"),
    "torch_compile_mode": (None, "setting it turns torch_compile on"),
    "tf32": (None, "PyTorch's default matmul precision"),
    "auto_find_batch_size": (False, "a fixed per-device batch (one prompt's group per micro-batch)"),
    "accelerator_config": (None, "Accelerate's batching: each process draws its own batch, no split batches"),
    "parallelism_config": (None, "data parallelism only"),
    "ignore_data_skip": (False, "a resumed run skips the batches it already trained on"),
}

# Fields with no effect on what is trained here: {reason: fields}.
IRRELEVANT = {
    "evaluation: no eval set is passed": (
        "eval_strategy", "eval_steps", "eval_delay", "per_device_eval_batch_size", "prediction_loss_only",
        "eval_on_start", "eval_do_concat_batches", "eval_use_gather_object", "eval_accumulation_steps",
        "include_for_metrics", "batch_eval_metrics", "bf16_full_eval", "fp16_full_eval", "load_best_model_at_end",
        "metric_for_best_model", "greater_is_better", "num_generations_eval", "do_eval", "do_predict"),
    "Hub upload": ("push_to_hub", "hub_token", "hub_private_repo", "hub_model_id", "hub_strategy", "hub_always_push",
                   "hub_revision", "log_completions_hub_repo"),
    "logging and tracking only": (
        "log_on_each_node", "logging_nan_inf_filter", "include_num_input_tokens_seen", "log_level",
        "log_level_replica", "project", "trackio_space_id", "trackio_bucket_id", "trackio_static_space_id",
        "log_multimodal", "log_unique_prompts", "skip_memory_metrics", "debug"),
    "where and when checkpoints are written, not what is trained": (
        "save_on_each_node", "enable_jit_checkpoint", "restore_callback_states_from_checkpoint"),
    "data-loading speed; GRPO's RepeatSampler yields whole generation batches in its own order": (
        "dataloader_drop_last", "dataloader_pin_memory", "dataloader_persistent_workers",
        "dataloader_prefetch_factor", "dataloader_multiprocessing_context", "dataloader_in_order",
        "train_sampling_strategy", "length_column_name"),
    "supervised-loss inputs: GRPOTrainer computes its own loss and scales it for accumulation itself": (
        "label_names", "label_smoothing_factor", "average_tokens_across_devices"),
    "process launch and communication, set by the launcher and accelerate config (ZeRO-2 partitions state)": (
        "local_rank", "ddp_bucket_cap_mb", "ddp_broadcast_buffers", "ddp_static_graph", "ddp_backend",
        "ddp_timeout", "fsdp", "fsdp_config", "deepspeed"),
    "memory, speed or bit-level determinism only": (
        "use_cache", "torch_empty_cache_steps", "ds3_gather_for_generation", "pad_to_multiple_of",
        "cache_implementation", "vllm_tensor_parallel_size", "full_determinism"),
    "model loading: the runner passes a loaded model": ("model_init_kwargs", "trust_remote_code"),
    "mixture-of-experts routers only; Qwen2 is dense": ("router_aux_loss_coef",),
    "vLLM server connection; vllm_server_base_url takes precedence": (
        "vllm_server_host", "vllm_server_port", "vllm_server_timeout", "vllm_group_port"),
    "settings of switches that are off (sync_ref_model, use_adaptive_entropy, vLLM importance sampling, "
    "continuous batching, Liger, GaLore-type optimizers, tools)": (
        "ref_model_mixup_alpha", "ref_model_sync_steps", "entropy_coef_min", "entropy_coef_max",
        "entropy_coef_delta", "entropy_target", "vllm_importance_sampling_mode", "vllm_importance_sampling_clip_max",
        "vllm_importance_sampling_clip_min", "vllm_importance_sampling_cap", "transformers_continuous_batching_config",
        "liger_kernel_config", "optim_target_modules", "max_tool_calling_iterations"),
    "losses of other algorithms (sapo, vespo)": (
        "sapo_temperature_neg", "sapo_temperature_pos", "vespo_k_pos", "vespo_lambda_pos", "vespo_k_neg",
        "vespo_lambda_neg"),
    "script entry points: the runner calls train() itself": ("do_train", "resume_from_checkpoint"),
}
