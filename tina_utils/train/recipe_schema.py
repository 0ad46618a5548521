"""The `Recipe` schema: every recipe key with its type, paper default and meaning; the allowed values of the
choice keys. Loading and validation are in config.py, the TRL mapping in recipe_map.py; tina_utils.train exports both.
"""

import dataclasses
from dataclasses import dataclass, field

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Tina's reward names; used only when tina_utils.rewards cannot be imported.
FALLBACK_REWARDS = ["accuracy", "format", "tag_count", "length", "cosine", "reasoning_steps",
                    "repetition_penalty", "length_l1_exact", "length_l1_max"]
REWARD_PARAMS = ["cosine_min_value_wrong", "cosine_max_value_wrong", "cosine_min_value_correct",
                 "cosine_max_value_correct", "cosine_max_len", "cosine_fix_verify_order",
                 "cosine_skip_unparseable_gold", "length_fix_verify_order", "repetition_n_grams",
                 "repetition_max_penalty", "length_unit", "length_reward_scope", "l1_alpha", "l1_delta"]


@dataclass
class Recipe:
    """One Tina experiment, flat; defaults are the shared paper values (same as `recipes/tina.yaml`)."""

    # identity
    name: str = "tina"  # recipe file name (set by the loader)
    base: str | None = None  # the recipe this one is a delta over
    run_id: str | None = None  # run directory name; None -> "<name>-seed<seed>"
    seed: int = 42  # Tina recipes: seed 42
    # model
    model: str = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"  # hub id, local path, or "tina-tiny"
    attn_implementation: str = "auto"  # auto: flash_attention_2 when importable, else sdpa
    bf16: bool = True  # paper: bf16 weights and autocast
    use_cpu: bool = False  # tiny profile: train on CPU with transformers generation
    gradient_checkpointing: bool = True  # paper: on, use_reentrant False
    pad_token: str | None = "<|fim_pad|>"  # Tina's Qwen pad token; None keeps the tokenizer's
    chat_template: str = "reason"  # "reason": prompts.REASON_CHAT_TEMPLATE (no <think> prefill); "model": keep
    # LoRA
    lora_r: int = 32
    lora_alpha: int = 128  # Tina: alpha = 4 r
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGETS))  # all 7 projections
    # data
    dataset: str = "open_rs"  # tina_utils.data.TRAIN_DATASETS name
    dataset_path: str | None = None  # local jsonl/parquet/arrow instead of the hub
    dataset_n: int | None = None  # use only the first n rows (None: all)
    max_prompt_length: int = 512  # prompts longer than this (tokens) are filtered out (TRL 1.16 cannot truncate)
    # rewards
    reward_funcs: list[str] = field(default_factory=lambda: ["format", "accuracy"])
    reward_weights: list[float] = field(default_factory=lambda: [1.0, 2.0])
    cosine_min_value_wrong: float = 0.0
    cosine_max_value_wrong: float = -0.5
    cosine_min_value_correct: float = 0.5
    cosine_max_value_correct: float = 1.0
    cosine_max_len: int = 1000  # Tina CLI passes 3584 for open_rs3/open_r1/thoughts (characters vs tokens!)
    cosine_fix_verify_order: bool = False  # Tina calls verify(answer, gold) reversed; True corrects it
    cosine_skip_unparseable_gold: bool = False  # Tina scores 1.0 when the gold cannot be parsed; True skips the row
    length_fix_verify_order: bool = False  # the `length` reward's verify order (Tina: reversed)
    repetition_n_grams: int = 3
    repetition_max_penalty: float = -1.0
    length_unit: str = "chars"  # Tina measures lengths in characters; "tokens" is the corrected variant
    length_reward_scope: str = "group"  # `length` min/max over one prompt's G (Tina) | "batch" (TRL 1.16's call)
    l1_alpha: float = 0.0003
    l1_delta: float = 0.5
    # GRPO
    num_generations: int = 4  # G completions per prompt
    prompts_per_step: int = 8  # prompts per optimizer step, on any number of GPUs
    per_device_batch_size: int | None = None  # completions per micro-batch; None -> G (one prompt per micro-batch)
    max_completion_length: int = 3584
    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = 0  # TRL 1.16: 0 disables top-k (vLLM default); Tina passed no top_k
    beta: float = 0.04  # KL coefficient (TRL 0.15 default; TRL 1.16 default is 0)
    loss_type: str = "grpo"  # per-sequence token mean, then mean over sequences (Tina's default path)
    scale_rewards: str = "group"  # "group" (std division, Tina default) | "batch" | "none" (Dr.GRPO)
    num_iterations: int = 1  # one gradient step per generation batch
    epsilon: float = 0.2  # irrelevant with num_iterations 1 (ratio is 1)
    mask_truncated_completions: bool = False
    logprob_temperature: str = "raw"  # loss/KL log-probs: "raw" logits (Tina) | "sampling": logits / T (TRL 1.16)
    kl_bias_correction: bool = False  # k3 KL times the ratio (TRL 1.16 default True); Tina: plain k3
    group_microbatches: bool = True  # micro-batches hold whole prompt groups (Tina); False: TRL's shuffled rows
    rollout_double_bos: bool = False  # True: rollouts are sampled after two BOS (Tina's vLLM on R1), scored with one
    # optimisation
    learning_rate: float = 1e-6
    lr_scheduler_type: str = "cosine_with_min_lr"
    min_lr_rate: float = 0.1
    warmup_ratio: float = 0.1  # of max_steps (the stretched horizon)
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    max_steps: int | None = 1500  # LR-schedule horizon; None -> num_train_epochs
    num_train_epochs: float = 1.0  # used only when max_steps is None
    stop_at_step: int | None = 850  # training stops here (Tina: "1500 for the scheduler, stop at 850")
    # vLLM
    use_vllm: bool = True
    vllm_mode: str = "colocate"  # 1 GPU: colocate; several: "server" with `trl vllm-serve` (runner.py docstring)
    vllm_gpu_memory_utilization: float = 0.4
    vllm_max_model_length: int | None = 4608  # caps prompt + completion inside vLLM
    vllm_enable_sleep_mode: bool = False
    vllm_server_base_url: str | None = None
    # checkpoints and logging
    save_steps: int = 50
    save_total_limit: int = 100
    logging_steps: int = 1
    log_completions: bool = True  # completions/completions_<step>.parquet in the run dir
    num_completions_to_print: int = 0
    report_to: str = "none"  # "none" | "trackio" | "wandb" | "tensorboard"
    # phase-transition early stop; "off" keeps paper-faithful training
    transition_mode: str = "off"  # "off" | "observe" (record + checkpoint) | "stop"
    transition_metric: str = "format_reward"  # canonical phase.load_logs column to watch
    transition_min_steps: int = 10  # no detection before this step
    transition_confirm_steps: int = 5  # steps the change must persist to count
    transition_patience: int = 0  # steps to keep training after a confirmed transition (mode "stop")


FIELDS = {f.name: f for f in dataclasses.fields(Recipe)}
CHOICES = {
    "attn_implementation": ["auto", "flash_attention_2", "sdpa", "eager"],
    "chat_template": ["reason", "model"],
    "loss_type": ["grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo"],
    "scale_rewards": ["group", "batch", "none"],
    "vllm_mode": ["colocate", "server"],
    "length_unit": ["chars", "tokens"],
    "length_reward_scope": ["group", "batch"],
    "logprob_temperature": ["raw", "sampling"],
    "transition_mode": ["off", "observe", "stop"],
    "report_to": ["none", "trackio", "wandb", "tensorboard"],
}
