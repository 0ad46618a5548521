"""Grade rows with lighteval 0.8.1's own extractive match, built as Tina's eval task file built its three metrics.

Runs inside the lighteval side environment (lighteval_grader.py creates it), not in the project's: it imports
lighteval and the standard library only. Reads JSON lines {"completion", "gold", "profile"} on stdin and writes
one JSON line {"correct", "extracted", "ungradable"} per row on stdout (`ungradable`: why lighteval could not
grade the row, else null; such a row is incorrect and the rest of the batch is graded). Profiles: expr (AIME,
AMC: gold as an expression), latex (MATH-500, Minerva: gold as LaTeX), letter (GPQA: A-D).
"""

import json
import logging
import sys

from lighteval.metrics.dynamic_metrics import (
    ExprExtractionConfig,
    IndicesExtractionConfig,
    LatexExtractionConfig,
    multilingual_extractive_match_metric,
)
from lighteval.tasks.requests import Doc
from lighteval.utils.language import Language

LETTERS = ["A", "B", "C", "D"]
# Tina's expr_gold_metric, latex_gold_metric and GPQA metric, argument for argument.
METRICS = {
    "expr": multilingual_extractive_match_metric(
        language=Language.ENGLISH, fallback_mode="first_match", precision=5,
        gold_extraction_target=(ExprExtractionConfig(),),
        pred_extraction_target=(ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0)),
        aggregation_function=max),
    "latex": multilingual_extractive_match_metric(
        language=Language.ENGLISH, fallback_mode="first_match", precision=5,
        gold_extraction_target=(LatexExtractionConfig(),),
        pred_extraction_target=(ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0)),
        aggregation_function=max),
    "letter": multilingual_extractive_match_metric(
        language=Language.ENGLISH,
        gold_extraction_target=[IndicesExtractionConfig(prefix_for_extraction="NativeLetters")],
        pred_extraction_target=[IndicesExtractionConfig(prefix_for_extraction="NativeLetters")],
        precision=5),
}


def grade(row: dict) -> dict:
    """lighteval's verdict and extracted prediction for one completion; what it cannot grade says why."""
    try:
        return grade_one(row)
    except Exception as error:  # one bad row (e.g. a GPQA gold that is not A-D) must not stop the batch
        reason = f"lighteval cannot grade this row: {type(error).__name__}: {error}"[:300]
        return {"correct": False, "extracted": None, "ungradable": reason}


def grade_one(row: dict) -> dict:
    """lighteval's verdict and extracted prediction for one completion."""
    if row["profile"] == "letter":
        doc = Doc(task_name="gpqa", query="", choices=LETTERS, gold_index=LETTERS.index(row["gold"]))
    else:
        doc = Doc(task_name="math", query="", choices=[row["gold"]], gold_index=0)
    score = METRICS[row["profile"]].sample_level_fn(golds=doc.get_golds(), predictions=[row["completion"]],
                                                    formatted_doc=doc)
    extracted = (doc.specific or {}).get("extracted_predictions") or [None]
    return {"correct": bool(score), "extracted": extracted[-1], "ungradable": None}


if __name__ == "__main__":
    logging.disable(logging.WARNING)  # lighteval warns on every unextractable prediction
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(grade(json.loads(line))), flush=True)
