"""The tiny offline world: a char-level fast tokenizer, a ~0.6 M-parameter Qwen2 model and an arithmetic task.

Built from the same parts as the paper profile (Qwen2ForCausalLM, a Hugging Face fast tokenizer with a chat
template, saved with `save_pretrained`) so every notebook and test runs the real TRL/PEFT code on a CPU.
The warm start is a short supervised pass on R1-style traces in which the closing `</think>` is rare and the
boxed answer is sometimes wrong: GRPO then has a format to learn (the phase transition) and accuracy to gain.
Used in: every notebook's tiny profile (01 §1, 02 §1, 03 §1).
"""

import hashlib
import itertools
import json
import logging
import random
import time
from pathlib import Path

from tina_utils import env
from tina_utils.worlds.save import save_world

log = logging.getLogger(__name__)

TINY_MODEL = "tina-tiny"
TINY_SYSTEM_PROMPT = ""  # kept empty: every prompt character costs a sequential CPU decoding step
WORLD_VERSION = 3  # bump when anything below changes the built artefacts

CHARS = list("0123456789+-*/=()[]{}<>\\$.,:;?!'\"_^|&%# \n") + [chr(c) for c in range(97, 123)] + [
    chr(c) for c in range(65, 91)]
SPECIAL = {"pad": "<pad>", "bos": "<bos>", "eos": "<eos>", "unk": "<unk>"}
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n"
    "{% elif m['role'] == 'user' %}q:{{ m['content'] }}\n"
    "{% elif m['role'] == 'assistant' %}a:{{ m['content'] }}{{ eos_token }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}a:{% endif %}"
)
MODEL_CONFIG = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=True,
                    rope_theta=10000.0)
# close_think_rate: how often traces close </think> (the format GRPO learns); skip_last_rate: how often a 3-term
# trace stops after the first sum and boxes it (a premature answer: the mode GRPO's accuracy reward must flip);
# wrong_answer_rate: how often the boxed number is off by one or two.
WARM_START = dict(n_traces=6000, close_think_rate=0.1, skip_last_rate=0.55, wrong_answer_rate=0.1, lr=3e-3,
                  batch_size=64, steps=300)


# ---------------------------------------------------------------- task
def _is_eval(terms: tuple[int, ...]) -> bool:
    """A fixed, seed-independent fifth of all problems of each size is held out for evaluation."""
    return int(hashlib.md5("+".join(map(str, terms)).encode()).hexdigest(), 16) % 5 == 0


def _pool(split: str, difficulty: str) -> list[tuple[int, ...]]:
    """All problems of a split: digit pairs (easy) or digit triples (hard), train and eval disjoint."""
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    if difficulty not in ("easy", "hard"):
        raise ValueError(f"difficulty must be 'easy' or 'hard', got {difficulty!r}")
    size = 3 if difficulty == "hard" else 2
    problems = itertools.product(range(10), repeat=size)
    return [terms for terms in problems if _is_eval(terms) == (split == "eval")]


def pool_size(split: str = "eval", difficulty: str = "hard") -> int:
    """How many distinct problems a split holds."""
    return len(_pool(split, difficulty))


def make_problems(n: int, seed: int = 0, split: str = "train", difficulty: str = "hard") -> list[dict]:
    """`n` arithmetic problems (sampled with replacement past the pool size), deterministic per seed."""
    pool = _pool(split, difficulty)
    rng = random.Random(f"{seed}-{split}-{difficulty}")
    picks = rng.sample(pool, n) if n <= len(pool) else [rng.choice(pool) for _ in range(n)]
    return [{"id": f"tiny-{split}-{difficulty}-{i}", "problem": "+".join(map(str, terms)),
             "answer": str(sum(terms))} for i, terms in enumerate(picks)]


def trace(terms: tuple[int, ...], close_think: bool, answer: int) -> str:
    """An R1-style completion: running sums inside <think>, then the boxed `answer`."""
    lines, total = [], terms[0]
    for term in terms[1:]:
        lines.append(f"{total}+{term}={total + term}")
        total += term
    closing = "</think>\n" if close_think else ""
    return "<think>\n" + "\n".join(lines) + "\n" + closing + "\\boxed{" + str(answer) + "}"


def _warm_start_texts(tokenizer, seed: int) -> list[str]:
    """Supervised traces on train problems of both difficulties, with rare `</think>` and some wrong answers."""
    rng = random.Random(seed)
    cfg = WARM_START
    pools = _pool("train", "hard") + _pool("train", "easy")
    texts = []
    for _ in range(cfg["n_traces"]):
        problem = terms = rng.choice(pools)
        if len(terms) > 2 and rng.random() < cfg["skip_last_rate"]:
            terms = terms[:-1]
        answer = sum(terms)
        if rng.random() < cfg["wrong_answer_rate"]:
            answer += rng.choice([-2, -1, 1, 2])
        completion = trace(terms, rng.random() < cfg["close_think_rate"], answer)
        messages = [{"role": "user", "content": "+".join(map(str, problem))},
                    {"role": "assistant", "content": completion}]
        texts.append(tokenizer.apply_chat_template(messages, tokenize=False))
    return texts


# ---------------------------------------------------------------- tokenizer and model
def _byte_level(char: str) -> str:
    """The GPT-2/Qwen byte-level alphabet's symbol for an ASCII character (space -> 'Ġ', newline -> 'Ċ')."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    byte = ord(char)
    return chr(byte) if byte in printable else chr(256 + [b for b in range(256) if b not in printable].index(byte))


def make_tokenizer():
    """A character-level fast tokenizer in Qwen's byte-level alphabet, so AutoTokenizer's Qwen2Tokenizer reloads it.

    transformers 5 forces `Qwen2Tokenizer` (byte-level BPE) for every qwen2 checkpoint; a plain character
    vocabulary would silently lose newlines on reload. A BPE over byte-level characters with no merges is
    character-level and survives that. `<think>` is spelled in characters so it stays in decoded text.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    symbols = [*SPECIAL.values(), *(_byte_level(char) for char in CHARS)]
    core = Tokenizer(models.BPE(vocab={tok: i for i, tok in enumerate(symbols)}, merges=[], unk_token=SPECIAL["unk"]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=SPECIAL["bos"], eos_token=SPECIAL["eos"], pad_token=SPECIAL["pad"],
        unk_token=SPECIAL["unk"], padding_side="left", model_max_length=MODEL_CONFIG["max_position_embeddings"])
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def make_model(tokenizer, seed: int):
    """A randomly initialised tiny `Qwen2ForCausalLM` sized for 2 CPU cores."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         **MODEL_CONFIG)
    return Qwen2ForCausalLM(config)


def warm_start(model, tokenizer, seed: int) -> list[float]:
    """Plain next-token training on the warm-start traces (completion tokens only); returns the loss curve."""
    import torch

    cfg = WARM_START
    texts = _warm_start_texts(tokenizer, seed)
    batch = tokenizer(texts, return_tensors="pt", padding="longest", padding_side="right")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    labels = ids.masked_fill(mask == 0, -100)
    answer_start = tokenizer.convert_tokens_to_ids(":")
    for row in range(len(texts)):  # mask the prompt: loss only after the first "a:" colon pair
        colons = (ids[row] == answer_start).nonzero().flatten()
        labels[row, : int(colons[1]) + 1] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg["lr"], total_steps=cfg["steps"],
                                                   pct_start=0.1)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(cfg["steps"]):
        pick = torch.randint(0, len(texts), (cfg["batch_size"],), generator=generator)
        loss = model(input_ids=ids[pick], attention_mask=mask[pick], labels=labels[pick]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(round(loss.item(), 4))
    model.eval()
    return losses


# ---------------------------------------------------------------- build and cache
def world_dir(seed: int = 0) -> Path:
    """Where the tiny world for `seed` is cached (under `$TINA_HOME`)."""
    return env.tina_home() / f"tiny-world-v{WORLD_VERSION}-seed{seed}"


def is_built(path: Path) -> bool:
    """True when a cached world has every file and loads."""
    marker = path / "tiny_world.json"
    if not marker.exists():
        return False
    try:
        from transformers import AutoConfig, AutoTokenizer

        AutoConfig.from_pretrained(path)
        AutoTokenizer.from_pretrained(path)
        return json.loads(marker.read_text()).get("version") == WORLD_VERSION and any(path.glob("*.safetensors"))
    except Exception as error:  # noqa: BLE001 - any load failure means the cache is unusable
        log.warning("tiny world cache at %s is corrupt (%s); rebuilding", path, error)
        return False


def build(seed: int = 0, force: bool = False) -> Path:
    """Build (or reuse) the tiny world and return the directory `from_pretrained` loads."""
    import torch

    path = world_dir(seed)
    if not force and is_built(path):
        return path
    if path.exists() and not force:
        log.warning("rebuilding incomplete tiny world at %s", path)
    started = time.time()
    torch.manual_seed(seed)
    tokenizer = make_tokenizer()
    model = make_model(tokenizer, seed)
    losses = warm_start(model, tokenizer, seed)
    meta = {"version": WORLD_VERSION, "seed": seed, "parameters": model.num_parameters(),
            "warm_start": WARM_START, "final_loss": losses[-1], "build_seconds": round(time.time() - started, 1)}
    return save_world(path, model, tokenizer, "tiny_world.json", meta, is_built, force)
