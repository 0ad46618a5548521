"""How much of a LoRA update survives a bf16 merge (Tina's evaluation path), at the size of Tina's updates.

    HF_HUB_OFFLINE=1 python benchmarks/bench_bf16_merge.py [--out merge.json]

Tina's lr is 1e-6 and its best Open-RS2 checkpoint is step 450. Adam moves each LoRA B entry by about lr per step,
so B entries lie between lr x sqrt(450) = 2.1e-5 (gradient signs at random) and lr x 450 = 4.5e-4 (one sign
throughout). Both are measured on one decoder layer of the real 1.5B shapes (random bf16 weights at the real
initializer_range: trained weights are larger, so this errs towards losing more) and on r1-mini (whole model, with
next-token logits). The tiny run's real checkpoint (lr 5e-4, 75 steps) is the large-update extreme.
Columns: tina_utils/evaluate/merge_rounding.py.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tina_utils import worlds  # noqa: E402
from tina_utils.evaluate import merge_rounding  # noqa: E402
from tina_utils.train import ensure_tiny_run  # noqa: E402

PROMPTS = ["What is the remainder when 514 is divided by 7?", "Simplify $\\sqrt{125}$.", "1+2+3=",
           "Find the ordered pair (x, y) with x + y = 10 and x - y = 4."]
MAGNITUDES = {"lr x sqrt(450)": 1e-6 * 450 ** 0.5, "lr x 450": 1e-6 * 450}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    rows = []
    for label, size in MAGNITUDES.items():
        rows.append({"adapter": f"real 1.5B layer shapes, B = {label}", **merge_rounding.real_layer_stats(size)})
        rows.append({"adapter": f"r1-mini, B = {label}",
                     **merge_rounding.measure(worlds.resolve_model("r1-mini"), None, PROMPTS, b_magnitude=size)})
    tiny_run = ensure_tiny_run()
    rows.append({"adapter": "tiny run checkpoint-75 (lr 5e-4)",
                 **merge_rounding.measure(worlds.resolve_model("tina-tiny"), tiny_run / "checkpoint-75", PROMPTS)})
    for row in rows:
        print(row["adapter"])
        print("   " + "  ".join(f"{k} {v:.3g}" for k, v in row.items() if k != "adapter"))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
