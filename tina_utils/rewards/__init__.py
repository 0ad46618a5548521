"""Tina's rewards and the answer grading they share with evaluation (notebooks 02, 03).

Modules: functions.py (the reward functions by recipe name), grading.py (math-verify grading with a time limit),
grading_pool.py (the killable worker processes).
"""

from tina_utils.rewards.functions import DEFAULTS, REWARDS, completion_text, get_reward_funcs
from tina_utils.rewards.grading import DEFAULT_TIMEOUT, PROFILES, extract_answer, grade, grade_many, shutdown

__all__ = ["DEFAULTS", "DEFAULT_TIMEOUT", "PROFILES", "REWARDS", "completion_text", "extract_answer",
           "get_reward_funcs", "grade", "grade_many", "shutdown"]
