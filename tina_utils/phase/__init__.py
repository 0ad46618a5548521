"""Stage 05, the phase transition (paper §5): detect it offline and online, relate it to checkpoints, stop there.

Modules: report.py (relation to the best checkpoint, panel figure), early_stop.py (what stopping at the transition
saves and scores; `from tina_utils.phase import early_stop`), replay.py (notebook 05's replay of a log through the
callback and its stop comparison, as data plus the text printed). The detectors themselves live in
`tina_utils.transition` (training uses them too) and are exported here for notebook 05.
Used in: notebooks 02 and 05 (early_stop also in 04).
"""

from tina_utils.phase.replay import (
                                     StopComparison,
                                     compare_stop,
                                     find_stopped_run,
                                     format_comparison,
                                     format_record,
                                     format_replay,
                                     kept_before_transition,
                                     replay_stop,
                                     stop_record,
)
from tina_utils.phase.report import (
                                     checkpoint_scores,
                                     format_relation,
                                     relate_run,
                                     relate_to_checkpoints,
)
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
from tina_utils.transition.online import (
                                     MODES,
                                     SYNTHETIC_KINDS,
                                     OnlineDetector,
                                     TransitionCallback,
                                     alarm_summary,
                                     change_onset,
                                     first_alarm,
                                     online_alarms,
                                     synthetic_logs,
)

__all__ = ["ALIASES", "KINDS", "METRICS", "MODES", "STEP_NAMES", "SYNTHETIC_KINDS", "OnlineDetector", "StopComparison",
           "Transition", "TransitionCallback", "alarm_summary", "autocorrelation", "canonical_name", "canonicalize",
           "change_onset", "checkpoint_scores", "compare_stop", "detect_all", "detect_series", "detect_transition",
           "find_stopped_run", "first_alarm", "format_comparison", "format_record", "format_relation", "format_replay",
           "kept_before_transition", "load_logs", "noise_sd", "online_alarms",
           "relate_run", "relate_to_checkpoints", "replay_stop", "stop_record", "summary_table", "synthetic_logs"]
