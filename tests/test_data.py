"""Training-set and benchmark preparation from in-memory rows in each Hub schema (tina_utils.data).

Offline. Run: HF_HUB_OFFLINE=1 pytest tests/test_data.py
"""

import json
import random

import pandas as pd
import pytest
from datasets import Dataset

from tina_utils import data
from tina_utils.data import benchmarks, prompts, sources
from tina_utils.worlds.tiny import make_tokenizer

CHAT = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]

# Two rows per training set, in the schema of its Hub copy. The second row of most
# sets carries a gold the grader cannot parse (empty answer, unboxed prose), as the real data sometimes does.
RAW = {
    "still": [
        {"question": "Compute 3+4.", "answer": "7", "messages": CHAT},
        {"question": "Which number is greater than 0.7", "answer": "", "messages": CHAT},
    ],
    "deepscaler": [
        {"problem": "Remainder of 6^83+8^83 mod 49?", "answer": "35", "solution": "... so $\\boxed{035}$."},
        {"problem": "No answer here.", "answer": "", "solution": ""},
    ],
    "open_rs": [
        {"problem": "Half of 1?", "solution": "Divide: $\\boxed{\\frac{1}{2}}$.", "answer": "\\frac{1}{2}",
         "level": "Easy"},
        {"problem": "Prove it.", "solution": "It follows by induction.", "answer": "", "level": "Hard"},
    ],
    "open_s1": [
        {"problem": "Find k.", "solution": "Hence $\\boxed{5}$.", "answer": "5",
         "source": "AI-MO/NuminaMath-CoT/aops_forum", "messages": CHAT},
        {"problem": "Does f exist?", "solution": "Yes, such f exists.", "answer": "yes",
         "source": "AI-MO/NuminaMath-CoT/olympiads", "messages": CHAT},
    ],
    "2thought": [
        {"messages": [{"role": "user", "content": "Compute 19*8."}],
         "verification_info": json.dumps({"type": "math_verifiable", "answer": {"value": "152"}})},
        {"messages": [{"role": "user", "content": "Broken gold."}], "verification_info": "{not json"},
    ],
    "limr": [
        {"id": "9b2f-uuid", "prompt": "The smaller root is p - sqrt(q); find p+q.", "answer": "118",
         "source": "math"},
        {"id": "77aa-uuid", "prompt": "Vector?", "answer": "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
         "source": "math"},
    ],
    "open_r1": [
        {"problem": "Task B-1.3 ship speed.", "solution": "## Solution.\n\nSo $v_B=10$.", "answer": "v_B=10",
         "problem_type": "Algebra", "question_type": "math-word-problem", "source": "olympiads",
         "uuid": "586fd646-76d6-5070-8c81-9993ab9d8559", "is_reasoning_complete": [True],
         "generations": ["<think>..."], "correctness_math_verify": [True], "correctness_llama": [True],
         "finish_reasons": ["stop"], "correctness_count": 1, "messages": CHAT},
        {"problem": "Proof task.", "solution": "## Solution.\n\nObvious.", "answer": "proof",
         "problem_type": "Logic", "question_type": "proof", "source": "olympiads", "uuid": "u2",
         "is_reasoning_complete": [False], "generations": ["..."], "correctness_math_verify": [False],
         "correctness_llama": [False], "finish_reasons": ["length"], "correctness_count": 0, "messages": CHAT},
    ],
    "thoughts": [
        {"source": "amc_aime", "problem": "Sum 1..4?", "solution": "We add: $\\boxed{10}$", "system": "s",
         "messages": CHAT, "conversations": [{"from": "user", "value": "q"}], "generated_token_count": 812,
         "correct": True},
        {"source": "olympiads", "problem": "Show it.", "solution": "Done.", "system": "s", "messages": CHAT,
         "conversations": [{"from": "user", "value": "q"}], "generated_token_count": 9000, "correct": False},
    ],
    "fastcurl": [
        {"data_source": "", "ability": "math",
         "prompt": [{"content": "Remainder of 6^83+8^83 mod 49? Let's think step by step and output the final "
                                "answer within \\boxed{}.", "role": "user"}],
         "reward_model": {"ground_truth": "35", "style": "rule"}, "extra_info": {"index": 7, "split": "train"}},
        {"data_source": "", "ability": "math", "prompt": [{"content": "Empty gold.", "role": "user"}],
         "reward_model": {"ground_truth": "", "style": "rule"}, "extra_info": {"index": 8, "split": "train"}},
    ],
}
RAW["l1"] = RAW["deepscaler"]

# name -> (problem, solution, id, system prompt, rows kept) of the first prepared row.
EXPECTED = {
    "still": ("Compute 3+4.", "$7$", "still-0", prompts.OPEN_R1_SYSTEM_PROMPT, 1),
    "deepscaler": ("Remainder of 6^83+8^83 mod 49?", "$35$", "deepscaler-0", prompts.OPEN_R1_SYSTEM_PROMPT, 1),
    "open_rs": ("Half of 1?", "Divide: $\\boxed{\\frac{1}{2}}$.", "open_rs-0", prompts.OPEN_RS_SYSTEM_PROMPT, 1),
    "open_s1": ("Find k.", "Hence $\\boxed{5}$.", "open_s1-0", prompts.OPEN_R1_SYSTEM_PROMPT, 1),
    "2thought": ("Compute 19*8.", "$152$", "2thought-0", prompts.OPEN_R1_SYSTEM_PROMPT, 1),
    "limr": ("The smaller root is p - sqrt(q); find p+q.", "$118$", "9b2f-uuid", prompts.OPEN_R1_SYSTEM_PROMPT, 2),
    "open_r1": ("Task B-1.3 ship speed.", "## Solution.\n\nSo $v_B=10$.", "586fd646-76d6-5070-8c81-9993ab9d8559",
                prompts.OPEN_R1_SYSTEM_PROMPT, 1),
    "thoughts": ("Sum 1..4?", "We add: $\\boxed{10}$", "thoughts-0", prompts.OPEN_R1_SYSTEM_PROMPT, 1),
    "fastcurl": ("Remainder of 6^83+8^83 mod 49? Let's think step by step and output the final answer within "
                 "\\boxed{}.", "$35$", "7", prompts.OPEN_R1_SYSTEM_PROMPT, 1),
}


def test_every_hub_registry_entry_has_a_schema_fixture():
    hub_names = {name for name, spec in data.TRAIN_DATASETS.items() if not spec.get("tiny")}
    assert hub_names == set(RAW)
    assert {"tiny", "tiny_easy", "tiny_hard"} <= set(data.TRAIN_DATASETS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_prepare_maps_hub_schema_to_canonical_rows(name):
    ds = data.prepare_train_dataset(name, Dataset.from_list(RAW[name]))
    problem, solution, row_id, system, kept = EXPECTED[name]
    assert ds.column_names == ["prompt", "solution", "problem", "source", "id"]
    assert len(ds) == kept
    row = ds[0]
    assert row["prompt"] == [{"role": "system", "content": system}, {"role": "user", "content": problem}]
    assert (row["problem"], row["solution"], row["id"], row["source"]) == (problem, solution, row_id, name)
    assert data.prep_stats(ds)["dropped_unparseable_gold"] == 2 - kept


def test_open_s1_gets_open_r1_prompt_but_open_rs_gets_its_own():
    s1 = data.prepare_train_dataset("open_s1", Dataset.from_list(RAW["open_s1"]))
    rs = data.prepare_train_dataset("open_rs", Dataset.from_list(RAW["open_rs"]))
    assert s1[0]["prompt"][0]["content"].startswith("\nYou are a helpful AI Assistant")
    assert rs[0]["prompt"][0]["content"].startswith("\nA conversation between User and Assistant.")


def test_l1_appends_a_seeded_target_length():
    raw = Dataset.from_list([{"problem": f"p{i}", "answer": str(i), "solution": ""} for i in range(5)])
    ds = data.prepare_train_dataset("l1", raw, seed=7)
    rng = random.Random(7)
    expected = [rng.randint(100, 4000) for _ in range(5)]
    assert ds["target_length"] == expected
    assert ds[2]["prompt"][0]["content"] == prompts.OPEN_R1_SYSTEM_PROMPT + f"\nThink for {expected[2]} tokens."
    assert data.prepare_train_dataset("l1", raw, seed=8)["target_length"] != expected


def test_unparseable_gold_rows_are_dropped_and_counted(capsys):
    ds = data.prepare_train_dataset("deepscaler", Dataset.from_list(RAW["deepscaler"] * 3))
    assert len(ds) == 3
    assert data.prep_stats(ds) == {"dataset": "deepscaler", "rows_in": 6, "dropped_unparseable_gold": 3,
                                   "dropped_too_long": 0, "max_prompt_tokens": None, "rows_out": 3}
    assert "kept 3 of 6 rows; dropped 3 with gold the grader cannot parse" in capsys.readouterr().out


def test_already_delimited_answer_is_not_wrapped_twice():
    raw = Dataset.from_list([{"question": "q", "answer": "$\\frac{1}{2}$", "messages": CHAT}])
    assert data.prepare_train_dataset("still", raw)["solution"] == ["$\\frac{1}{2}$"]


def test_prompt_length_filter_counts_tokens_of_the_rendered_prompt():
    raw = Dataset.from_list([{"id": "a", "problem": "1+2", "answer": "3"},
                             {"id": "b", "problem": "1+2+3", "answer": "6"},
                             {"id": "c", "problem": "12+34", "answer": "46"}])
    tokenizer = make_tokenizer()
    full = data.prepare_train_dataset("tiny", raw)
    # "<bos>" + "q:" + problem + "\n" + "a:" with one token per character: 1 + 2 + len + 1 + 2.
    assert data.prompt_lengths(full, tokenizer) == [9, 11, 11]
    ds = data.prepare_train_dataset("tiny", raw, tokenizer=tokenizer, max_prompt_tokens=10)
    assert ds["id"] == ["a"]
    assert data.prep_stats(ds)["dropped_too_long"] == 2


def test_the_dataset_summary_counts_rows_gold_types_and_prompt_tokens(tmp_path, monkeypatch):
    from tina_utils import plots

    raw = Dataset.from_list([{"id": "a", "problem": "1+2", "answer": "3"},
                             {"id": "b", "problem": "1+2+3", "answer": "6"},
                             {"id": "c", "problem": "12+34", "answer": "46"}])
    tokenizer = make_tokenizer()
    ds = data.prepare_train_dataset("tiny", raw, tokenizer=tokenizer, max_prompt_tokens=10)
    summary, lengths = data.dataset_summary("tiny", "tiny", ds, data.prep_stats(ds), tokenizer)
    row = summary.iloc[0]
    assert (row.raw_rows, row.rows, row.dropped_too_long, row.gold_integer) == (3, 1, 2, 1)
    assert lengths.tolist() == [9] and row.prompt_tokens_max == 9 and row.gold_parse_share == 1.0
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    png = plots.write_prompt_lengths(pd.Series([9, 11, 11]), "tiny", budget=12)
    assert png == tmp_path / "figures" / "01_prompt_lengths_tiny.png" and png.exists()
    assert pd.read_csv(tmp_path / "01_data" / "tiny_prompt_lengths.csv")["prompt_tokens"].tolist() == [9, 11, 11]


def test_max_prompt_tokens_without_tokenizer_is_an_error():
    with pytest.raises(ValueError, match="needs a tokenizer"):
        data.prepare_train_dataset("tiny", Dataset.from_list([{"id": "a", "problem": "1+2", "answer": "3"}]),
                                   max_prompt_tokens=10)


@pytest.mark.parametrize("name,difficulty,terms", [("tiny", "hard", 3), ("tiny_easy", "easy", 2),
                                                   ("tiny_hard", "hard", 3)])
def test_tiny_is_offline_and_deterministic_per_seed(name, difficulty, terms):
    first = data.load_train_dataset(name, seed=3, n=20)
    assert first.to_list() == data.load_train_dataset(name, seed=3, n=20).to_list()
    assert first["problem"] != data.load_train_dataset(name, seed=4, n=20)["problem"]
    row = first[0]
    assert row["id"].startswith(f"tiny-train-{difficulty}-")
    assert row["problem"].count("+") == terms - 1
    assert row["solution"] == f"${sum(map(int, row['problem'].split('+')))}$"
    assert row["prompt"][-1] == {"role": "user", "content": row["problem"]}


def test_unknown_dataset_lists_valid_names_closest_first():
    with pytest.raises(ValueError, match=r"unknown training dataset 'deepscalr'; valid names \(closest first\): "
                                         r"deepscaler, "):
        data.load_train_dataset("deepscalr")
    with pytest.raises(ValueError, match=r"valid names \(closest first\): aime2[45], aime2[45], "):
        data.load_benchmark("aime")


def test_wrong_schema_names_found_and_expected_columns():
    raw = Dataset.from_list(RAW["deepscaler"])
    with pytest.raises(ValueError) as error:
        data.prepare_train_dataset("still", raw)
    message = str(error.value)
    assert "['answer', 'problem', 'solution']" in message and "['question', 'answer']" in message
    assert "These columns fit: deepscaler" in message


def test_hub_failure_offline_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match=r"could not load agentica-org/DeepScaleR-Preview-Dataset .*path="):
        data.load_train_dataset("deepscaler")


def test_gated_benchmark_without_token_says_so(monkeypatch):
    monkeypatch.setattr(sources, "has_token", lambda: False)
    with pytest.raises(PermissionError, match="Idavidrein/gpqa is a gated dataset and no Hugging Face token"):
        data.load_benchmark("gpqa_diamond")


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_local_files_load_offline(tmp_path, suffix):
    raw = Dataset.from_list(RAW["deepscaler"])
    path = tmp_path / f"deepscaler.{suffix}"
    raw.to_json(path) if suffix == "jsonl" else raw.to_parquet(path)
    ds = data.load_train_dataset("deepscaler", path=path)
    assert ds["solution"] == ["$35$"]


def test_save_to_disk_folder_and_arrow_file_load(tmp_path):
    Dataset.from_list(RAW["limr"]).save_to_disk(tmp_path / "limr")
    assert data.load_train_dataset("limr", path=tmp_path / "limr")["id"] == ["9b2f-uuid", "77aa-uuid"]
    arrow = next((tmp_path / "limr").glob("*.arrow"))
    assert len(data.load_train_dataset("limr", path=arrow)) == 2


def test_local_file_of_unknown_type_is_rejected(tmp_path):
    (tmp_path / "rows.txt").write_text("x")
    with pytest.raises(ValueError, match=r"unknown file type '\.txt'; valid types \(closest first\)"):
        data.load_train_dataset("deepscaler", path=tmp_path / "rows.txt")


# ---------------------------------------------------------------- benchmarks
MATH = prompts.math_eval_prompt
BENCH_RAW = {
    "aime24": ([{"id": 60, "problem": "Aya walks 9 km.", "solution": "...", "answer": "204", "url": "u",
                 "year": "2024"}], "Aya walks 9 km.", "204", "60"),
    "aime25": ([{"problem": "Sum of bases b>9 with 17_b | 97_b.", "answer": "70"}],
               "Sum of bases b>9 with 17_b | 97_b.", "70", "aime25-0"),
    "amc23": ([{"id": 0, "problem": "Two cyclists 45 miles apart.", "answer": 27.0, "url": "u", "question": "q"}],
              "Two cyclists 45 miles apart.", "27", "0"),
    "math_500": ([{"problem": "Convert (0,3) to polar.", "solution": "So $\\boxed{\\left( 3, \\frac{\\pi}{2} "
                   "\\right)}$", "answer": "\\left( 3, \\frac{\\pi}{2} \\right)", "subject": "Precalculus",
                   "level": 2, "unique_id": "test/precalculus/807.json"}],
                 "Convert (0,3) to polar.", "So $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$",
                 "test/precalculus/807.json"),
    "minerva": ([{"problem": "Photon wavelength?", "solution": "Thus $\\boxed{9.6}$.", "type": "Astro", "idx": 9}],
                "Photon wavelength?", "Thus $\\boxed{9.6}$.", "9"),
    "olympiadbench": ([{"id": 1606, "question": "Xenia and Sergey play.", "answer": "2", "solution": ["..."],
                        "final_answer": ["$2$"], "subfield": "Combinatorics", "context": None, "unit": None,
                        "answer_type": "Numerical", "error": None, "is_multiple_answer": False}],
                      "Xenia and Sergey play.", "$2$", "1606"),
}
GPQA_ROWS = [{"Question": f"Q{i}?", "Correct Answer": f" right{i} ", "Incorrect Answer 1": f"w{i}a",
              "Incorrect Answer 2": f"w{i}b", "Incorrect Answer 3": f"w{i}c", "Record ID": f"rec{i}",
              "Explanation": "e"} for i in range(8)]


def test_every_benchmark_has_a_schema_fixture():
    assert set(benchmarks.BENCHMARKS) == set(BENCH_RAW) | {"gpqa_diamond", "tiny_eval"}
    assert benchmarks.PAPER_BENCHMARKS == ("aime24", "aime25", "amc23", "math_500", "gpqa_diamond", "minerva")
    assert set(benchmarks.PAPER_BENCHMARKS) == {name for name, spec in benchmarks.BENCHMARKS.items() if spec["paper"]}


@pytest.mark.parametrize("name", sorted(BENCH_RAW))
def test_benchmark_rows_use_the_paper_template_and_gold(name):
    rows, problem, gold, row_id = BENCH_RAW[name]
    ds = benchmarks.prepare_benchmark(name, Dataset.from_list(rows))
    assert ds[0] == {"id": row_id, "problem": problem, "prompt": [{"role": "user", "content": MATH(problem)}],
                     "gold": gold, "benchmark": name, "profile": data.BENCHMARKS[name]["profile"]}
    assert sources.gold_parses(gold, ds[0]["profile"])


def test_gpqa_shuffle_is_seeded_and_gold_letter_points_at_the_right_answer():
    ds = benchmarks.prepare_benchmark("gpqa_diamond", Dataset.from_list(GPQA_ROWS), seed=1234)
    rng = random.Random(1234)
    assert ds["gold"] == ["ABCD"[rng.randint(0, 3)] for _ in GPQA_ROWS]
    for i, row in enumerate(ds):
        assert f"\n{row['gold']}) right{i}\n" in row["prompt"][0]["content"] + "\n"
        assert row["profile"] == "letter" and row["id"] == f"rec{i}"
    again = benchmarks.prepare_benchmark("gpqa_diamond", Dataset.from_list(GPQA_ROWS), seed=1234)
    assert again["prompt"] == ds["prompt"]
    other = benchmarks.prepare_benchmark("gpqa_diamond", Dataset.from_list(GPQA_ROWS), seed=1)
    assert other["gold"] != ds["gold"]


def test_benchmark_wrong_schema_is_an_error():
    with pytest.raises(ValueError, match=r"benchmark 'olympiadbench'.*expected columns \['question', 'answer'\]"):
        benchmarks.prepare_benchmark("olympiadbench", Dataset.from_list(BENCH_RAW["aime24"][0]))


def test_benchmark_from_local_file_and_first_n(tmp_path):
    path = tmp_path / "aime.jsonl"
    Dataset.from_list(BENCH_RAW["aime24"][0] * 3).to_json(path)
    assert len(data.load_benchmark("aime24", path=path)) == 3
    assert len(data.load_benchmark("aime24", path=path, n=2)) == 2


def test_tiny_eval_is_offline_held_out_and_seeded():
    ds = data.load_benchmark("tiny_eval", n=30, seed=5)
    assert ds.to_list() == data.load_benchmark("tiny_eval", n=30, seed=5).to_list()
    row = ds[0]
    assert row["profile"] == "expr" and row["benchmark"] == "tiny_eval"
    assert row["gold"] == str(sum(map(int, row["problem"].split("+"))))
    assert row["prompt"][-1] == {"role": "user", "content": row["problem"]}
    train = set(data.load_train_dataset("tiny_hard", n=500, seed=5)["problem"])
    assert not train & set(ds["problem"])


def test_gold_kind():
    kinds = [data.gold_kind(g) for g in ["$12$", "$-0.5$", "$\\frac{1}{2}$", "$(1, 2)$", "$\\text{Evelyn}$",
                                         "$x^2+1$", "$$", "So $\\boxed{3}$."]]
    assert kinds == ["integer", "decimal", "fraction", "tuple/list", "text", "expression", "empty",
                     "worked solution"]


def test_gold_parses_follows_the_grading_profiles():
    assert sources.gold_parses("$2$") and not sources.gold_parses("2")  # train_latex: LaTeX delimiters needed
    assert not sources.gold_parses("## Solution.\n\nObvious.")
    assert sources.gold_parses("025", "expr") and not sources.gold_parses("\\frac{1}{2}", "expr")
    assert sources.gold_parses("B", "letter") and not sources.gold_parses("E", "letter")
    with pytest.raises(ValueError, match="unknown grading profile 'exact'"):
        sources.gold_parses("2", "exact")
