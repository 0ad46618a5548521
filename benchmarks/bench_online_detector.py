"""Online phase-transition detector on held-out synthetic logs: detection lag and false-alarm rate.

Run: python benchmarks/bench_online_detector.py [--seeds 30] [--steps 200] [--confirm 5]
Lag = confirmation step - true change step (ramp: its midpoint, so a lag can be negative while the ramp is
still rising). False alarm = a confirmed transition on a "none" series, or one confirmed before the change
began (ramp: before the ramp starts, n_steps/10 before its midpoint). Seeds start at 1000 (tests use seeds < 100).
"""

import argparse
import time

import numpy as np

from tina_utils.phase import change_onset, first_alarm

KINDS = ("step", "ramp", "noisy", "peak", "none")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--min-steps", type=int, default=10)
    ap.add_argument("--confirm", type=int, default=5)
    args = ap.parse_args(argv)
    start = time.time()
    print(f"{args.seeds} seeds per kind, {args.steps} steps, min_steps={args.min_steps}, confirm_steps={args.confirm}")
    print(f"{'kind':>6} {'detected':>9} {'lag mean':>9} {'lag min':>8} {'lag max':>8} "
          f"{'early alarms':>13} {'missed':>7}")
    for kind in KINDS:
        lags, early, missed, alarms = [], 0, 0, 0
        for seed in range(1000, 1000 + args.seeds):
            true, at = first_alarm(kind, seed, args.steps, args.min_steps, args.confirm)
            alarms += at is not None
            if true is None:
                continue
            if at is None:
                missed += 1
            elif at < change_onset(kind, true, args.steps):
                early += 1
            else:
                lags.append(at - true)
        if kind == "none":
            print(f"{kind:>6} {alarms:>5}/{args.seeds:<3} {'-':>9} {'-':>8} {'-':>8} {'-':>13} {'-':>7}"
                  f"   false-alarm rate {alarms / args.seeds:.1%}")
            continue
        lag = np.array(lags) if lags else np.array([np.nan])
        print(f"{kind:>6} {alarms:>5}/{args.seeds:<3} {np.mean(lag):9.1f} {np.min(lag):8.0f} {np.max(lag):8.0f}"
              f" {early:>13} {missed:>7}")
    print(f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
