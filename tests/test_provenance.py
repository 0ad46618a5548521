"""Every scored row says where it came from; a table mixing provenances says so.

Run: pytest tests/test_provenance.py   (seconds)
"""

import pandas as pd

from tina_utils.evaluate import provenance


def rows(gold: str) -> list[dict]:
    return [{"benchmark": "aime24", "id": "1", "prompt": [{"role": "user", "content": "1+1?"}], "gold": gold}]


def test_the_data_hash_follows_the_problems_as_evaluated():
    assert provenance.rows_sha256(rows("2")) == provenance.rows_sha256(rows("2"))
    assert provenance.rows_sha256(rows("2"))["aime24"] != provenance.rows_sha256(rows("3"))["aime24"]


def test_a_completion_cached_before_provenance_was_recorded_says_so():
    assert provenance.from_cache({"text": "x"})["device"] == provenance.UNKNOWN
    machine = {"device": "NVIDIA H100", "versions": "torch=2.13.0", "n_processes": 2, "commit": "abc"}
    assert provenance.from_cache({"provenance": machine}) == machine


def samples(devices: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({"benchmark": "aime24", "problem_id": [str(i) for i in range(len(devices))],
                          "device": devices, "versions": "torch=2.13.0", "n_processes": 1, "commit": "abc"})
    return provenance.stamp(frame, "math_verify", {"aime24": "f00d"})


def test_stamp_gives_one_id_per_distinct_record_and_a_table_of_them():
    stamped = samples(["cpu", "cpu", "NVIDIA L40S"])
    assert stamped.provenance[0] == stamped.provenance[1] != stamped.provenance[2]
    assert stamped.versions[0].startswith("torch=2.13.0 math-verify=")
    assert "lighteval=0.8.1" in provenance.grader_versions("lighteval")
    assert len(provenance.table(stamped)) == 2 and set(stamped.data_sha256) == {"f00d"}


def test_a_table_of_mixed_provenance_says_so():
    one, mixed = samples(["cpu", "cpu"]), samples(["cpu", "NVIDIA L40S"])
    assert provenance.mixed_note(pd.DataFrame([provenance.summarize(one)]).assign(benchmark="aime24")) == ""
    row = pd.DataFrame([provenance.summarize(mixed)]).assign(benchmark="aime24")
    assert row.device[0] == "cpu | NVIDIA L40S"
    assert provenance.mixed_note(row) == "mixed provenance: the rows differ in device"
    two_benchmarks = pd.DataFrame({"benchmark": ["a", "b"], "device": "cpu", "versions": "v", "n_processes": 1,
                                   "commit": "c", "data_sha256": ["x", "y"], "provenance": ["1", "2"]})
    assert provenance.mixed_note(two_benchmarks) == ""  # each benchmark has its own data
