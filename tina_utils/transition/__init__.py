"""Phase-transition detection (paper §5), shared by training's early stop and notebook 05's analysis.

Modules: logs.py (training logs in one schema), detect.py (offline detection), online.py (streaming detector and
TrainerCallback, synthetic logs). It imports no stage: training attaches the callback, `tina_utils.phase` reports.
"""
