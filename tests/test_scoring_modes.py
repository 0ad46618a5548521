"""Scoring as Tina measured (`paper` preset) or corrected (`robust`): two BOS vs one, lighteval 0.8.1's own grader in
its side environment vs math-verify 0.9.0, bf16-merged vs unmerged adapters — each a preset field.

Run: pytest tests/test_scoring_modes.py   (the lighteval tests create the side environment once: minutes; slow)
"""

import json

import pandas as pd
import pytest
import torch

from tina_utils import worlds
from tina_utils.evaluate import backends, core, lighteval_grader, merge_rounding
from tina_utils.rewards import grading

ROW = {"benchmark": "aime24", "id": "1", "prompt": [{"role": "user", "content": "What is 1+1?"}]}
# (completion, gold, profile, math-verify 0.9.0's verdict, lighteval 0.8.1's verdict)
KNOWN = [
    ("so the answer is $\\boxed{10}$", "$10\\%$", "latex", True, False),  # lighteval scales \% by 1/100
    ("The answer is $\\boxed{80\\%}$", "80", "expr", True, False),
    ("The roots are $\\boxed{2, -2}$", "$\\pm 2$", "latex", True, False),  # lighteval does not read \pm
    ("Option A looks tempting.\n\n**Answer:**\n\nC", "C", "letter", True, False),  # its last resort reads the A
    ("\\boxed{C}", "C", "letter", False, True),  # lighteval finds letters in \boxed{}; our strict rules do not
    ("Answer: B", "B", "letter", True, True),
    ("Therefore, the final answer is: $\\boxed{204}$. I hope it is correct", "204", "expr", True, True),
]


def test_presets_name_their_scoring_choices():
    paper, robust = core.PRESETS["paper"], core.PRESETS["robust"]
    assert (paper.double_bos, paper.grader, paper.merge_adapters) == (True, "lighteval", True)
    assert (robust.double_bos, robust.grader, robust.merge_adapters) == (False, "math_verify", False)
    assert "double_bos" in core.GENERATION_FIELDS and core.preset_hash(paper) != core.preset_hash(
        core.get_preset("paper", double_bos=False))
    with pytest.raises(ValueError, match="unknown grader 'lightevall'"):
        core.get_preset("robust", grader="lightevall")


def test_paper_prompts_start_with_two_bos_on_r1_mini_and_robust_ones_with_one():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(worlds.resolve_model("r1-mini"))
    bos = tokenizer.bos_token_id
    paper = core.prompt_ids(tokenizer, ROW, core.PRESETS["paper"])
    robust = core.prompt_ids(tokenizer, ROW, core.PRESETS["robust"])
    assert paper[:3] == [bos, bos, tokenizer.convert_tokens_to_ids("<｜User｜>")]
    assert robust[:2] == [bos, tokenizer.convert_tokens_to_ids("<｜User｜>")] and paper[1:] == robust


def test_auto_backend_merges_on_the_paper_preset_and_an_explicit_backend_wins(monkeypatch):
    asked = []

    def spy(name):
        asked.append(name)
        raise StopIteration

    monkeypatch.setattr(backends, "resolve_backend", spy)
    for preset, backend in [("paper", "auto"), ("robust", "auto"), ("paper", "transformers")]:
        with pytest.raises(StopIteration):
            core.evaluate("r1-mini", "aime24", preset, backend)
    assert asked == ["merged", "auto", "transformers"]


def test_math_verify_verdicts_of_the_known_disagreements():
    for completion, gold, profile, ours, _ in KNOWN:
        assert grading.grade_many([(completion, gold)], profile=profile) == [ours], completion


def test_a_bf16_merge_keeps_what_bf16_can_hold_and_erases_the_rest():
    one = torch.ones(1, 4)  # bf16 spacing at 1.0 is 2^-7 = 0.0078
    erased = merge_rounding.delta_stats([(one, torch.full((1, 4), 1e-3))])
    assert erased["delta_kept"] == 0 and erased["unchanged_share"] == 1
    kept = merge_rounding.delta_stats([(one, torch.full((1, 4), 0.01))])
    assert kept["delta_kept"] == pytest.approx(2 ** -7 / 0.01) and kept["delta_cosine"] == pytest.approx(1)


def test_at_tinas_lr_a_bf16_merge_distorts_small_updates_on_the_real_shapes():
    small = merge_rounding.real_layer_stats(1e-6 * 450 ** 0.5)
    large = merge_rounding.real_layer_stats(1e-6 * 450)
    assert small["unchanged_share"] > 0.8 and small["delta_cosine"] < 0.5
    assert large["unchanged_share"] < 0.4 and large["delta_cosine"] > 0.9


@pytest.mark.slow
def test_lighteval_0_8_1_in_its_side_environment_reproduces_the_known_disagreements():
    rows = [{"completion": c, "gold": g, "profile": p} for c, g, p, _, _ in KNOWN]
    verdicts = lighteval_grader.grade_rows(rows)
    assert [v["correct"] for v in verdicts] == [lv for *_, lv in KNOWN]
    assert verdicts[3]["extracted"] == "A" and verdicts[4]["extracted"] == "C"


@pytest.mark.slow
def test_regrading_an_evaluation_folder_counts_differing_verdicts_per_benchmark(tmp_path):
    samples = pd.DataFrame([{"benchmark": "math_500" if p == "latex" else "gpqa_diamond" if p == "letter" else "aime24",
                             "problem_id": str(i), "completion": c, "gold": g, "profile": p, "correct": ours}
                            for i, (c, g, p, ours, _) in enumerate(KNOWN)])
    samples.to_json(tmp_path / "samples.jsonl", orient="records", lines=True)
    table = lighteval_grader.run([str(tmp_path)]).set_index("benchmark")
    assert table.loc["math_500", "differ"] == 2 and table.loc["gpqa_diamond", "differ"] == 2
    assert table.loc["aime24", "differ"] == 1 and table.loc["aime24", "lighteval"] == 50
    rewritten = pd.read_json(tmp_path / "samples.jsonl", lines=True)
    assert rewritten.correct_lighteval.tolist() == [lv for *_, lv in KNOWN]
    assert json.loads((tmp_path / "samples.jsonl").read_text().splitlines()[0])["correct_math_verify"] is True
    assert (tmp_path / "grader_agreement.csv").exists()
