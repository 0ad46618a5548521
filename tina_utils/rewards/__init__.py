"""Tina's rewards and the answer grading they share with evaluation (notebooks 02, 03).

Modules: functions.py (the reward functions by recipe name), grading.py (parallel grading with a time limit),
grading_pool.py (the killable worker processes), verifier.py (math-verify per grading profile: what a worker runs).
"""

from tina_utils.rewards.functions import DEFAULTS, REWARDS, completion_text, get_reward_funcs
from tina_utils.rewards.grading import DEFAULT_TIMEOUT, extract_answer, grade, grade_many, shutdown
from tina_utils.rewards.verifier import PROFILES

__all__ = ["DEFAULTS", "DEFAULT_TIMEOUT", "PROFILES", "REWARDS", "completion_text", "extract_answer",
           "get_reward_funcs", "grade", "grade_many", "shutdown"]
