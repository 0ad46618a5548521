"""The R1-shaped mini world `r1-mini`: DeepSeek-R1-Distill-Qwen-1.5B's tokenizer roles and config at toy size.

The paper path (R1 chat template, `<｜begin▁of▁sentence｜>`/`<｜end▁of▁sentence｜>` roles, `<|fim_pad|>` padding,
`<think>` as plain added tokens, an untied Qwen2 with GQA 6:1 in bf16) runs on a CPU with this model in place of
the real one. The tokenizer is a byte-level BPE trained here on a small math corpus, carrying the real model's
22 added tokens in the real order; the model is randomly initialised (it only has to run, not to reason).
Every config field equals the real model's except the sizes. Built in seconds and cached in `$TINA_HOME`.
Used in: the paper-path tests, `--model r1-mini` anywhere a model id is accepted (tina_utils.worlds).
"""

import json
from pathlib import Path

from tina_utils import env
from tina_utils.worlds.save import save_world

R1_MINI_MODEL = "r1-mini"
VERSION = 2  # bump when anything below changes the built artefacts
BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
# The real tokenizer's added tokens in id order (151643...151664); True marks special tokens.
ADDED_TOKENS = [
    (EOS, True), ("<｜User｜>", False), ("<｜Assistant｜>", False), (BOS, True), ("<|EOT|>", False),
    ("<think>", False), ("</think>", False), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True), ("<|image_pad|>", True),
    ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False), ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False),
    ("<|file_sep|>", False)]
BPE_VOCAB_SIZE = 720  # learned tokens before the added ones (the real model has 151,643)

# The original release's template: bos + system text, <｜User｜> turns, assistant turns with everything up to the
# last </think> dropped + eos, tool calls/outputs as marker strings, and a bare <｜Assistant｜> generation prompt.
CHAT_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
    "{{ bos_token }}{{ ns.system_prompt }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{ '<｜User｜>' + message['content'] }}"
    "{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}"
    "{%- for tool in message['tool_calls'] %}"
    "{%- set call = tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n```json\\n'"
    " + tool['function']['arguments'] + '\\n```<｜tool▁call▁end｜>' %}"
    "{%- if not ns.is_first %}{{ '<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + call }}"
    "{%- set ns.is_first = true -%}"
    "{%- else %}{{ '\\n<｜tool▁call▁begin｜>' + call + '<｜tool▁calls▁end｜><｜end▁of▁sentence｜>' }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}"
    "{%- if ns.is_tool %}{{ '<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>' }}"
    "{%- set ns.is_tool = false -%}"
    "{%- else %}{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}{%- endif %}{%- endif %}"
    "{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}"
    "{%- if ns.is_output_first %}"
    "{{ '<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>' }}"
    "{%- set ns.is_output_first = false %}"
    "{%- else %}{{ '\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>' }}{%- endif %}"
    "{%- endif %}{%- endfor -%}"
    "{% if ns.is_tool %}{{ '<｜tool▁outputs▁end｜>' }}{% endif %}"
    "{% if add_generation_prompt and not ns.is_tool %}{{ '<｜Assistant｜>' }}{% endif %}"
)
# Real config.json values (rope, norms, untied head, sliding-window fields, dtype, context); only sizes shrink.
REAL_CONFIG = dict(hidden_act="silu", max_position_embeddings=131072, rope_theta=10000.0, rms_norm_eps=1e-6,
                   tie_word_embeddings=False, sliding_window=None, use_sliding_window=False, max_window_layers=21,
                   attention_dropout=0.0, initializer_range=0.02, use_cache=True)
SIZES = dict(hidden_size=96, intermediate_size=256, num_hidden_layers=2, num_attention_heads=6,
             num_key_value_heads=1)  # GQA 6:1 as the real 12/2; head_dim 16 (real 128)
# The real model's sizes: Qwen2Config(**REAL_CONFIG, **REAL_SIZES) is DeepSeek-R1-Distill-Qwen-1.5B's architecture.
REAL_SIZES = dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                  num_key_value_heads=2, vocab_size=151936)
TOKENIZER_CONFIG = dict(add_bos_token=True, add_eos_token=False, model_max_length=16384,
                        clean_up_tokenization_spaces=False, legacy=True)
RELEASED_TOKENIZER_FIELDS = {"tokenizer_class": "LlamaTokenizerFast", "unk_token": None}  # no unk token, as released


def _corpus() -> list[str]:
    """Text the BPE learns from: the Tina system prompts and templates plus LaTeX-heavy worked solutions."""
    from tina_utils.data import prompts

    solutions = [f"We have $\\frac{{{a}}}{{{b}}} + {a} = \\frac{{{a * b + a}}}{{{b}}}$, so the answer is "
                 f"$\\boxed{{{a * b + a}}}$." for a in range(1, 30) for b in range(2, 9)]
    words = ("Let x be the number of ways. Then the probability is the ratio of the area of the triangle to "
             "the sum of the squares. Therefore \\sqrt{2}, \\pi, (1, 2), \\left( 3, \\frac{\\pi}{2} \\right).")
    return [prompts.OPEN_R1_SYSTEM_PROMPT, prompts.OPEN_RS_SYSTEM_PROMPT, prompts.math_eval_prompt("x"),
            prompts.gpqa_eval_prompt("Which?", ["a", "b", "c", "d"]), words, *solutions]


def make_tokenizer():
    """A byte-level BPE with the real added tokens, roles (bos, eos, pad = eos) and chat template."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    core.train_from_iterator(_corpus(), trainer=trainer)
    core.add_tokens([AddedToken(token, special=special, normalized=False) for token, special in ADDED_TOKENS])
    bos_id = core.token_to_id(BOS)
    # add_bos_token: tokenizing with special tokens prepends BOS, as the real (Llama-style) tokenizer does.
    core.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                        special_tokens=[(BOS, bos_id)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token=BOS, eos_token=EOS, pad_token=EOS,
                                        **TOKENIZER_CONFIG)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def make_model(tokenizer, seed: int):
    """A randomly initialised bf16 `Qwen2ForCausalLM` with the real config at toy sizes."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    vocab = -(-len(tokenizer) // 64) * 64  # embedding rows padded past the tokenizer, as the real 151,936
    config = Qwen2Config(vocab_size=vocab, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                         **REAL_CONFIG, **SIZES)
    return Qwen2ForCausalLM(config).to(torch.bfloat16)


def world_dir(seed: int = 0) -> Path:
    """Where the r1-mini world for `seed` is cached (under `$TINA_HOME`)."""
    return env.tina_home() / f"r1-mini-v{VERSION}-seed{seed}"


def is_built(path: Path) -> bool:
    """True when a cached world has its marker of this version and weights."""
    marker = path / "r1_mini.json"
    try:
        return json.loads(marker.read_text()).get("version") == VERSION and any(path.glob("*.safetensors"))
    except (OSError, json.JSONDecodeError):
        return False


def build(seed: int = 0, force: bool = False) -> Path:
    """Build (or reuse) r1-mini and return the directory `from_pretrained` loads."""
    import time

    path = world_dir(seed)
    if not force and is_built(path):
        return path
    started = time.time()
    tokenizer = make_tokenizer()
    model = make_model(tokenizer, seed)
    meta = {"version": VERSION, "seed": seed, "parameters": model.num_parameters(), "tokens": len(tokenizer),
            "build_seconds": round(time.time() - started, 1)}
    return save_world(path, model, tokenizer, "r1_mini.json", meta, is_built, force, finish=_released_tokenizer_config)


def _released_tokenizer_config(staging: Path) -> None:
    """Give the saved tokenizer_config.json the released model's fields (chat template, special tokens)."""
    config_file = staging / "tokenizer_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), **RELEASED_TOKENIZER_FIELDS}, indent=2))
