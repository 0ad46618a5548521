"""System prompts, the R1-style chat template and the eval prompt templates of the Tina setup.

The two system prompts and the two eval templates are reproduced verbatim: their exact wording is part
of the paper's setup (Tina `tina/utils/prompt.py`, `scripts/eval/run_eval_custom_tasks.py`).
"""

# Open-R1's demo GRPO recipe prompt, as Tina stores it (leading/trailing newline included).
OPEN_R1_SYSTEM_PROMPT = """
You are a helpful AI Assistant that provides well-reasoned and detailed responses.
You first think about the reasoning process as an internal monologue and then provide the user with the answer.
Respond in the following format: <think>\n...\n</think>\n<answer>\n...\n</answer>
"""

# Open-RS's prompt. The doubled braces in "\boxed{{}}" are verbatim: Tina never .format()s this string,
# so the model really sees "{{}}". So is the space before the newline after "respectively,".
OPEN_RS_SYSTEM_PROMPT = (
    "\nA conversation between User and Assistant. The user asks a question, and the Assistant solves it.\n"
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer, and put your final answer within \\boxed{{}} .\n"
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, \n"
    "i.e., <think> reasoning process here </think> <answer> answer here </answer>.\n"
    "Note that respond by English, NOT use other languages.\n"
)

# L1 recipes append this to the system prompt, with N drawn uniformly from [100, 4000] per row.
L1_SUFFIX = "\nThink for {n} tokens."
L1_MIN_TOKENS, L1_MAX_TOKENS = 100, 4000

# R1-style template: bos, the system text bare, then <｜User｜>/<｜Assistant｜> turns. Unlike the stock
# R1-Distill template it does not prefill "<think>\n" after the generation prompt, so the think block
# (and the "\n</think>\n" the format reward looks for) stays inside the completion.
REASON_CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for m in messages if m['role'] == 'system' -%}{{ m['content'] }}{%- endfor -%}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'user' -%}{{ '<｜User｜>' + m['content'] }}"
    "{%- elif m['role'] == 'assistant' -%}{{ '<｜Assistant｜>' + m['content'] + '<｜end▁of▁sentence｜>' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<｜Assistant｜>' }}{%- endif -%}"
)

# simple-evals math prompt used for AIME24/25, AMC23, MATH-500, Minerva, OlympiadBench (two spaces
# after "clearly." are verbatim). Fill with .format(question=...).
MATH_EVAL_TEMPLATE = (
    "Solve the following math problem efficiently and clearly.  The last line of your response should be "
    "of the following format: 'Therefore, the final answer is: $\\boxed{{ANSWER}}$. I hope it is correct' "
    "(without quotes) where ANSWER is just the final number or expression that solves the problem. "
    "Think step by step before answering.\n\n{question}"
)

# simple-evals multiple-choice prompt used for GPQA-Diamond. Fill with .format(question=..., A=..., ...).
GPQA_EVAL_TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be of the "
    "following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. "
    "Think step by step before answering.\n\n{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)


def system_prompt_for(hub_id: str) -> str:
    """Tina's rule: the Open-RS prompt iff the hub id contains "open-rs", else the Open-R1 prompt.

    Quirk kept on purpose: recipe open_rs1 trains on "knoveleng/open-s1", which lacks "open-rs",
    so it gets the Open-R1 prompt even though it is an Open-RS dataset.
    """
    return OPEN_RS_SYSTEM_PROMPT if "open-rs" in hub_id else OPEN_R1_SYSTEM_PROMPT


def with_target_length(system_prompt: str, n: int) -> str:
    """The L1 system prompt: `system_prompt` + "\\nThink for N tokens."."""
    return system_prompt + L1_SUFFIX.format(n=n)


def math_eval_prompt(question: str) -> str:
    """The paper's math eval user message for one problem."""
    return MATH_EVAL_TEMPLATE.format(question=question)


def gpqa_eval_prompt(question: str, choices: list[str]) -> str:
    """The paper's GPQA user message; `choices` are the four options in A-D order."""
    a, b, c, d = choices
    return GPQA_EVAL_TEMPLATE.format(question=question, A=a, B=b, C=c, D=d)
