"""Bad input to `python -m tina_utils.train|evaluate|pipeline` is one line naming the input and the fix, exit code 2;
`--debug` (or TINA_DEBUG=1) shows the traceback instead.

Run: pytest tests/test_cli_errors.py
"""

import os
import subprocess
import sys

import pytest
from support import schema_fixtures

from tina_utils import devices, pipeline
from tina_utils.evaluate import cli as evaluate_cli
from tina_utils.train import runner

CPU_RUN = ["--model", "r1-mini", "--use_vllm", "false", "--max_steps", "2", "--stop_at_step", "2"]


def one_line_error(main, argv, capsys) -> str:
    """The stderr line of a CLI call that must exit with code 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]  # beside any progress bar
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TINA_DEBUG", raising=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fixtures")
    return {"open_rs": schema_fixtures.write_train_file("open_rs", folder),
            "limr": schema_fixtures.write_train_file("limr", folder),
            "aime24": schema_fixtures.write_benchmark_file("aime24", folder)}


@pytest.mark.parametrize("argv, expected", [
    (["open_rs9"], "unknown recipe 'open_rs9' (did you mean 'open_rs"),
    (["open_rs2", "--lora_rr", "8"], "unknown recipe key 'lora_rr' in overrides (did you mean 'lora_r'?)"),
    (["open_rs2", "--lora_r", "eight"], "recipe key 'lora_r' must be int, got 'eight'"),
    (["open_rs2", "--reward_funcs", "format,acuracy", "--reward_weights", "1,2"], "unknown reward 'acuracy'"),
    (["open_rs2", "--dataset_path", "/no/such/file.jsonl"], "dataset_path '/no/such/file.jsonl' does not exist"),
    (["tiny", "--dataset_path", "."], "dataset 'tiny' is generated offline and reads no file"),
    (["open_rs2", "--seed"], "--seed needs a value"),
    ([], "usage: python -m tina_utils.train RECIPE"),
])
def test_train_cli_rejects_bad_recipes_keys_types_and_paths(argv, expected, capsys):
    assert expected in one_line_error(runner.main, argv, capsys)


@pytest.mark.skipif(devices.cuda_available(), reason="the vLLM error is for machines without CUDA")
def test_a_paper_recipe_on_a_cpu_machine_says_which_overrides_to_use(files, capsys):
    line = one_line_error(runner.main, ["open_rs2", "--dataset_path", str(files["open_rs"])], capsys)
    assert "needs a CUDA GPU" in line and "--use_vllm false" in line and "--model r1-mini" in line


def test_a_data_file_in_another_schema_names_the_columns_and_the_dataset_they_fit(files, tmp_path, capsys):
    line = one_line_error(runner.main, ["open_rs2", *CPU_RUN, "--dataset_path", str(files["limr"]),
                                        "--run_dir", str(tmp_path)], capsys)
    assert "match no known schema" in line and "missing ['problem', 'solution']" in line and "fit: limr" in line


@pytest.mark.parametrize("model, expected", [
    ("nobody/no-such-model", "is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 is set"),
    ("./no/such/folder", "model path './no/such/folder' does not exist")])
def test_a_model_that_is_neither_a_path_nor_cached_is_one_line(model, expected, files, tmp_path, capsys):
    argv = ["open_rs2", *CPU_RUN, "--model", model, "--dataset_path", str(files["open_rs"]), "--run_dir", str(tmp_path)]
    assert expected in one_line_error(runner.main, argv, capsys)


@pytest.mark.parametrize("argv, expected", [
    (["r1-mini", "--benchmarks", "aime99"], "unknown benchmark 'aime99'"),
    (["r1-mini", "--preset", "papr"], "unknown preset 'papr'"),
    (["r1-mini", "--n_problems", "three"], "argument --n_problems: invalid int value: 'three'"),
    (["r1-mini", "--n_problems", "0"], "--n_problems must be >= 1"),
    (["r1-mini", "--data", "aime24"], "--data 'aime24' must be NAME=PATH"),
    (["r1-mini", "--data", "aime99=x.jsonl"], "unknown benchmark 'aime99'"),
    (["r1-mini", "--data", "aime24=/no/such.jsonl"], "--data aime24=/no/such.jsonl: the file does not exist"),
    (["nobody/no-such-model", "--benchmarks", "tiny_eval"], "'nobody/no-such-model' is not in the local Hugging Face"),
    (["r1-mini", "--backend", "vlm", "--benchmarks", "tiny_eval"], "unknown backend 'vlm'"),
])
def test_evaluate_cli_rejects_bad_benchmarks_presets_numbers_files_and_models(argv, expected, capsys):
    assert expected in one_line_error(evaluate_cli.main, argv, capsys)


def test_evaluate_cli_names_a_benchmark_file_in_the_wrong_schema(files, capsys):
    line = one_line_error(evaluate_cli.main, ["r1-mini", "--benchmarks", "amc23", "--data", f"amc23={files['limr']}"],
                          capsys)
    assert "benchmark 'amc23': columns" in line and "match no known schema" in line


@pytest.mark.parametrize("argv, expected", [
    (["--only", "09"], "--only '09' names no notebook"),
    (["-p", "recipee", "open_rs2"], "parameter 'recipee' is not in any selected notebook's parameters cell"),
    (["--profile", "gpu"], "argument --profile: invalid choice: 'gpu'"),
    (["--inplace", "no_such.ipynb"], "--inplace 'no_such.ipynb' does not exist"),
])
def test_pipeline_cli_rejects_unknown_notebooks_parameters_and_profiles(argv, expected, capsys):
    assert expected in one_line_error(pipeline.main, argv, capsys)


def test_debug_shows_the_traceback_instead(capsys, monkeypatch):
    with pytest.raises(ValueError, match="unknown recipe"):
        runner.main(["open_rs9", "--debug"])
    monkeypatch.setenv("TINA_DEBUG", "1")
    with pytest.raises(KeyError, match="lora_rr"):
        runner.main(["open_rs2", "--lora_rr", "8"])


@pytest.mark.slow
def test_a_real_process_exits_2_with_one_line_and_no_traceback():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("TINA_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "tina_utils.train", "open_rs9"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("error: ")] == [proc.stderr.strip()]
    debug = subprocess.run([sys.executable, "-m", "tina_utils.train", "open_rs9", "--debug"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
