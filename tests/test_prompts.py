"""System prompts, the R1 chat template and eval templates (tina_utils.data.prompts).

Run: pytest tests/test_prompts.py
"""

from tina_utils.data import prompts
from tina_utils.worlds.tiny import make_tokenizer

# Rebuilt line by line from Tina's tina/utils/prompt.py, independently of prompts.py's spelling.
OPEN_R1_LINES = [
    "",
    "You are a helpful AI Assistant that provides well-reasoned and detailed responses.",
    "You first think about the reasoning process as an internal monologue and then provide the user with the "
    "answer.",
    "Respond in the following format: <think>", "...", "</think>", "<answer>", "...", "</answer>",
    "",
]
OPEN_RS_LINES = [
    "",
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it.",
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer, and put your final answer within " + "\\" + "boxed{{}} .",
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, ",
    "i.e., <think> reasoning process here </think> <answer> answer here </answer>.",
    "Note that respond by English, NOT use other languages.",
    "",
]


def test_system_prompts_are_tinas_exact_strings():
    assert prompts.OPEN_R1_SYSTEM_PROMPT == "\n".join(OPEN_R1_LINES)
    assert prompts.OPEN_RS_SYSTEM_PROMPT == "\n".join(OPEN_RS_LINES)


def test_system_prompt_rule_reproduces_open_s1_quirk():
    assert prompts.system_prompt_for("knoveleng/open-rs") == prompts.OPEN_RS_SYSTEM_PROMPT
    # open_rs1 trains on open-s1, whose id lacks "open-rs": Tina gave it the Open-R1 prompt.
    assert prompts.system_prompt_for("knoveleng/open-s1") == prompts.OPEN_R1_SYSTEM_PROMPT
    assert prompts.system_prompt_for("agentica-org/DeepScaleR-Preview-Dataset") == prompts.OPEN_R1_SYSTEM_PROMPT


def test_l1_suffix():
    assert prompts.with_target_length("SYS", 1234) == "SYS\nThink for 1234 tokens."


def test_math_eval_template():
    text = prompts.math_eval_prompt("What is $1+1$?")
    assert text.startswith("Solve the following math problem efficiently and clearly.  The last line")
    assert "'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct' (without quotes)" in text
    assert text.endswith("Think step by step before answering.\n\nWhat is $1+1$?")


def test_gpqa_eval_template():
    text = prompts.gpqa_eval_prompt("Pick one.", ["w", "x", "y", "z"])
    assert text.startswith("Answer the following multiple choice question. The last line of your response "
                           "should be of the following format: 'Answer: $LETTER' (without quotes) where LETTER "
                           "is one of ABCD.")
    assert text.endswith("before answering.\n\nPick one.\n\nA) w\nB) x\nC) y\nD) z")


def _render(messages, add_generation_prompt):
    tokenizer = make_tokenizer()
    tokenizer.chat_template = prompts.REASON_CHAT_TEMPLATE
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def test_reason_chat_template_has_no_think_prefill():
    chat = [{"role": "system", "content": "SYS"}, {"role": "user", "content": "1+1?"}]
    assert _render(chat, True) == "<bos>SYS<｜User｜>1+1?<｜Assistant｜>"


def test_reason_chat_template_closes_assistant_turns():
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>\nx\n</think>\n2"}]
    assert _render(chat, False) == "<bos><｜User｜>q<｜Assistant｜><think>\nx\n</think>\n2<｜end▁of▁sentence｜>"
