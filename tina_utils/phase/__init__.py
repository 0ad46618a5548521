"""Stage 05, the phase transition (paper §5): detect it offline and online, relate it to checkpoints, stop there.

Modules: logs.py (training logs in one schema), detect.py (offline detection), online.py (streaming detector
and TrainerCallback, synthetic logs), report.py (relation to the best checkpoint, panel figure), early_stop.py
(what stopping at the transition saves and scores; `from tina_utils.phase import early_stop`).
Used in: notebooks 02 and 05 (early_stop also in 04).
"""

from tina_utils.phase.detect import (Transition, autocorrelation, detect_all, detect_series, detect_transition,
                                     noise_sd, summary_table)
from tina_utils.phase.logs import ALIASES, KINDS, METRICS, STEP_NAMES, canonical_name, canonicalize, load_logs
from tina_utils.phase.online import MODES, SYNTHETIC_KINDS, OnlineDetector, TransitionCallback, synthetic_logs
from tina_utils.phase.report import checkpoint_scores, plot_phase_panel, relate_to_checkpoints

__all__ = ["ALIASES", "KINDS", "METRICS", "MODES", "STEP_NAMES", "SYNTHETIC_KINDS", "OnlineDetector", "Transition",
           "TransitionCallback", "autocorrelation", "canonical_name", "canonicalize", "checkpoint_scores", "detect_all",
           "detect_series", "detect_transition", "load_logs", "noise_sd", "plot_phase_panel", "relate_to_checkpoints",
           "summary_table", "synthetic_logs"]
