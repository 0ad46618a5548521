"""Stage 05, the phase transition (paper §5): detect it offline and online, relate it to checkpoints, stop there.

Modules: report.py (relation to the best checkpoint, panel figure), early_stop.py (what stopping at the transition
saves and scores; `from tina_utils.phase import early_stop`). The detectors themselves live in `tina_utils.transition`
(training uses them too) and are exported here for notebook 05.
Used in: notebooks 02 and 05 (early_stop also in 04).
"""

from tina_utils.phase.report import checkpoint_scores, plot_phase_panel, relate_to_checkpoints
from tina_utils.transition.detect import (
                                     Transition,
                                     autocorrelation,
                                     detect_all,
                                     detect_series,
                                     detect_transition,
                                     noise_sd,
                                     summary_table,
)
from tina_utils.transition.logs import ALIASES, KINDS, METRICS, STEP_NAMES, canonical_name, canonicalize, load_logs
from tina_utils.transition.online import MODES, SYNTHETIC_KINDS, OnlineDetector, TransitionCallback, synthetic_logs

__all__ = ["ALIASES", "KINDS", "METRICS", "MODES", "STEP_NAMES", "SYNTHETIC_KINDS", "OnlineDetector", "Transition",
           "TransitionCallback", "autocorrelation", "canonical_name", "canonicalize", "checkpoint_scores", "detect_all",
           "detect_series", "detect_transition", "load_logs", "noise_sd", "plot_phase_panel", "relate_to_checkpoints",
           "summary_table", "synthetic_logs"]
