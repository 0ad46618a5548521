"""Benchmark: Tina-style inline math-verify grading vs tina_utils.rewards.grading.grade_many on R1-style completions.

Run (from the repository root): .venv/bin/python benchmarks/bench_grading.py [--n 2000] [--workers N]
Prints items/s of (a) the baseline, one process calling math-verify parse (gold) + parse (completion) +
verify per item with math-verify's own 5 s signal timeouts, as Tina's accuracy reward did, and (b)
grade_many; their ratio; verdict agreement on items where the baseline did not time out; p50/p99 per-item
latency; and the machine's load average (timings are noisy on a shared machine).
"""

import argparse
import logging
import os
import random
import statistics
import time

from latex2sympy2_extended import NormalizationConfig
from math_verify import LatexExtractionConfig, parse, verify

from tina_utils.rewards import grading, grading_pool

TINA_PRED = [LatexExtractionConfig(
    normalization_config=NormalizationConfig(nits=False, malformed_operators=False, basic_latex=True,
                                             equations=True, boxed="all", units=True),
    boxed_match_priority=0, try_extract_without_anchor=False)]
MIX = {"correct": 0.40, "wrong": 0.28, "unboxed": 0.12, "truncated": 0.08, "malformed": 0.11, "pathological": 0.01}
FILLER = ("Let me think about this carefully. Wait, maybe I should try another approach. Hmm, so the sum is "
          "what we need. Let me double-check the arithmetic. Okay, that seems right. Alternatively, consider "
          "the complementary case. So we have to be careful with the boundary.").split(". ")
PATHOLOGICAL = [r"\boxed{9^{9^{9^{9}}}}", r"\boxed{10^{10^{10}}}", "\\boxed{" * 300 + "1" + "}" * 300,
                "\\boxed{" + "{" * 5000 + "}", r"\boxed{\frac{1}{" * 200, "x" * 400_000 + r"\boxed{3}",
                "∑∫√≈ 答案是 \\boxed{３} ☃" * 50, "$" * 20_000, r"\boxed{(10^{100})!}",
                "answer: " + "$1$ and " * 2000]


def make_gold(rng: random.Random) -> tuple[str, str, str]:
    """(gold as in the dataset column, an equivalent written answer, a wrong answer)."""
    kind = rng.random()
    if kind < 0.5:
        n = rng.randint(0, 999)
        return f"${n}$", str(n), str(n + rng.choice([-2, -1, 1, 3, 10]))
    if kind < 0.75:
        p, q = rng.randint(1, 20), rng.randint(21, 40)
        right = rng.choice([f"\\dfrac{{{p}}}{{{q}}}", f"{p}/{q}", f"\\frac{{{p}}}{{{q}}}"])
        return f"$\\frac{{{p}}}{{{q}}}$", right, f"\\frac{{{p + 1}}}{{{q}}}"
    if kind < 0.9:
        a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 7])
        right = rng.choice([f"{a}\\sqrt{{{b}}}", f"\\sqrt{{{a * a * b}}}"])
        return f"${a}\\sqrt{{{b}}}$", right, f"{a}\\sqrt{{{b + 1}}}"
    a = rng.randint(1, 9)
    right = rng.choice([f"\\frac{{{a}\\pi}}{{4}}", f"{a}\\pi/4"])
    return f"$\\frac{{{a}\\pi}}{{4}}$", right, f"\\frac{{{a}\\pi}}{{3}}"


def think(rng: random.Random, chars: int) -> str:
    """R1-style reasoning text with inline and display math."""
    parts, size = [], 0
    while size < chars:
        r, x, y = rng.random(), rng.randint(2, 99), rng.randint(2, 99)
        part = (f"So ${x} + {y} = {x + y}$, which means $x = {x}$." if r < 0.3 else
                f"\\[ \\frac{{{x}}}{{{y}}} \\cdot {y} = {x} \\]" if r < 0.4 else
                f"Let me check the answer again: {x} times {y} is {x * y}." if r < 0.45 else
                rng.choice(FILLER) + ".")
        parts.append(part)
        size += len(part) + 1
    return " ".join(parts)


def make_corpus(n: int, seed: int) -> list[tuple[str, str, str]]:
    """n (completion, gold, category) triples; each gold is sampled ~8 times, as G samples per prompt."""
    rng = random.Random(seed)
    golds = [make_gold(rng) for _ in range(max(1, n // 8))]
    cats, weights = zip(*MIX.items())
    corpus = []
    for i in range(n):
        gold, right, wrong = golds[i // 8 % len(golds)]
        cat = rng.choices(cats, weights)[0]
        body = "<think>\n" + think(rng, rng.randint(1500, 6000))
        tail = {"correct": f"\n</think>\n\nTherefore, the final answer is $\\boxed{{{right}}}$.",
                "wrong": f"\n</think>\n\nSo the result is \\boxed{{{wrong}}}.",
                "unboxed": f"\n</think>\n\nSo the result is {right}.",
                "truncated": "",
                "malformed": rng.choice([f"\n</think>\n\\boxed{{{right}", "\n</think>\n\\boxed{}",
                                         f"\n</think>\n\\boxed{{\\frac{{{right}}}", "\n</think>\n\\boxed{{}}}"]),
                "pathological": "\n</think>\n" + rng.choice(PATHOLOGICAL)}[cat]
        corpus.append((body + tail, gold, cat))
    return corpus


class TimeoutCounter(logging.Handler):
    """Counts math-verify's timeout warnings (its signal-based limits fired)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += "Timeout during" in record.getMessage()


def baseline(corpus) -> tuple[list, list, list]:
    """Tina's accuracy reward, item by item in this process: verdicts, seconds, timed-out flags."""
    counter = TimeoutCounter()
    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).addHandler(counter)
        logging.getLogger(name).propagate = False
    verdicts, seconds, timed_out = [], [], []
    for text, gold, _ in corpus:
        before, t0 = counter.count, time.perf_counter()
        gold_parsed = parse(gold, extraction_mode="first_match")
        if gold_parsed:
            pred = parse(text, extraction_config=TINA_PRED, extraction_mode="first_match")
            verdicts.append(bool(verify(gold_parsed, pred)))
        else:
            verdicts.append(None)
        seconds.append(time.perf_counter() - t0)
        timed_out.append(counter.count > before)
    return verdicts, seconds, timed_out


def pct(values, q) -> float:
    """q-th percentile (nearest rank), in milliseconds."""
    ordered = sorted(values)
    return 1e3 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def worker_cpu() -> tuple[float, int]:
    """CPU seconds used so far by the live grading workers (Linux /proc), and the pool's replacement count."""
    total = 0.0
    for worker in grading_pool._STATE["workers"]:
        try:
            with open(f"/proc/{worker.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total, grading_pool._STATE["replaced"]


def interleaved(corpus, workers, block: int) -> dict:
    """Baseline and grade_many on the same blocks in turn, so load changes on a shared machine hit both."""
    grading.shutdown()
    t0 = time.perf_counter()
    grading.grade_many([("\\boxed{0}", "$-1$")] * 8, workers=workers)  # start the workers, not timed
    out = {"startup": time.perf_counter() - t0, "base": [], "base_s": [], "timed_out": [], "ours": [],
           "latency": [], "blocks": []}
    for start in range(0, len(corpus), block):
        part = corpus[start:start + block]
        cpu0 = time.process_time()
        verdicts, seconds, timed_out = baseline(part)
        base_cpu = time.process_time() - cpu0
        latencies: list = []
        (cpu0, replaced0), parent0, t0 = worker_cpu(), time.process_time(), time.perf_counter()
        ours = grading.grade_many([(t, g) for t, g, _ in part], workers=workers, latencies=latencies)
        ours_s = time.perf_counter() - t0
        cpu1, replaced1 = worker_cpu()
        ours_cpu = cpu1 - cpu0 + time.process_time() - parent0
        for key, values in zip(("base", "base_s", "timed_out", "ours", "latency"),
                               (verdicts, seconds, timed_out, ours, latencies)):
            out[key] += values
        out["blocks"].append((sum(seconds), ours_s, any(timed_out) or replaced1 != replaced0, base_cpu, ours_cpu))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--block", type=int, default=200, help="items per interleaved block (a multiple of 8)")
    ap.add_argument("--workers", type=int, default=None, help="grade_many workers (default: available cores)")
    args = ap.parse_args()
    logging.getLogger("latex2sympy2_extended").setLevel(logging.ERROR)
    corpus = make_corpus(args.n, args.seed)
    workers = grading._default_workers() if args.workers is None else args.workers
    print(f"corpus: {len(corpus)} pairs, mean {statistics.mean(len(t) for t, _, _ in corpus):.0f} chars;",
          {c: sum(k == c for _, _, k in corpus) for c in MIX}, f"| cpus {os.cpu_count()}, workers {workers}")
    print(f"load average before: {tuple(round(x, 2) for x in os.getloadavg())}")
    r = interleaved(corpus, args.workers, args.block)
    base_s = sum(block[0] for block in r["blocks"])
    ours_s = sum(block[1] for block in r["blocks"])
    keep = [i for i, flag in enumerate(r["timed_out"]) if not flag]
    agree = sum(r["base"][i] == r["ours"][i] for i in keep)
    clean = [block for block in r["blocks"] if not block[2]]
    print(f"(a) baseline:   {len(corpus) / base_s:8.1f} items/s  ({base_s:.1f} s; "
          f"{len(corpus) - len(keep)} items hit math-verify's 5 s timeouts)")
    print(f"(b) grade_many: {len(corpus) / ours_s:8.1f} items/s  ({ours_s:.1f} s; worker start-up "
          f"{r['startup']:.1f} s not counted)")
    print(f"ratio, all items: {base_s / ours_s:.1f}x")
    if clean:
        cpu = sum(c[3] for c in clean) / sum(c[4] for c in clean)
        print(f"ratio, the {len(clean)} of {len(r['blocks'])} blocks without timeouts: wall "
              f"{sum(c[0] for c in clean) / sum(c[1] for c in clean):.1f}x, CPU time {cpu:.1f}x "
              f"(CPU ms/item: baseline {1e3 * sum(c[3] for c in clean) / (len(clean) * args.block):.2f}, "
              f"grade_many {1e3 * sum(c[4] for c in clean) / (len(clean) * args.block):.2f} in workers + parent)")
    print(f"verdict agreement where the baseline did not time out: {agree}/{len(keep)} "
          f"({100 * agree / max(1, len(keep)):.2f} %)")
    for i in [i for i in keep if r["base"][i] != r["ours"][i]][:5]:
        print("  DIFF", corpus[i][2], corpus[i][1], r["base"][i], r["ours"][i], repr(corpus[i][0][-120:]))
    print(f"per-item latency ms: baseline p50 {pct(r['base_s'], 50):.2f} p99 {pct(r['base_s'], 99):.2f} "
          f"max {1e3 * max(r['base_s']):.0f}; grade_many p50 {pct(r['latency'], 50):.2f} "
          f"p99 {pct(r['latency'], 99):.2f} max {1e3 * max(r['latency']):.0f} "
          f"(timeout {grading.DEFAULT_TIMEOUT:g} s)")
    print(f"load average after: {tuple(round(x, 2) for x in os.getloadavg())}")
    grading.shutdown()


if __name__ == "__main__":
    main()
