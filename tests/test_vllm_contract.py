"""vLLM API contract: every keyword the evaluation backends and TRL 1.16's GRPOTrainer pass to vLLM exists in the pin.

vLLM's API is read from tests/support/vllm_<pin>_api.json, which tests/support/vllm_api_snapshot.py extracts from the
vllm wheel's own
source, so the checks need neither a GPU nor vllm. The project's calls are recorded by running `open_vllm` and
`open_merged(engine="vllm")` against a fake `vllm` module whose result objects carry only attributes vLLM has;
TRL's calls are read from its installed source with `ast`. That GRPOConfig accepts the recipes' `vllm_*` options
is checked in tests/test_config.py. Where vllm imports (GPU machines; it imports on a CPU too but cannot start an
engine there), the snapshot is also compared with the live classes and the recorded calls are replayed on the real
SamplingParams, LoRARequest and EngineArgs.

Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_vllm_contract.py -q
"""

import ast
import dataclasses
import importlib.util
import inspect
import json
import re
import sys
import types
from pathlib import Path

import pytest
import trl
from packaging.version import Version

from tina_utils.evaluate import adapters as ad
from tina_utils.evaluate import backends as eb
from tina_utils.evaluate import core
from tina_utils.train import config, to_grpo_config

ROOT = Path(__file__).resolve().parents[1]
VLLM_PIN = re.search(r'"vllm==([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
SNAPSHOT = ROOT / "tests" / "support" / f"vllm_{VLLM_PIN}_api.json"
TRL_DIR = Path(trl.__file__).parent
# The TRL files on GRPOTrainer's vLLM path (colocate and server modes).
TRL_FILES = ["generation/vllm_generation.py", "generation/vllm_client.py", "trainer/grpo_trainer.py"]
VLLM_RECIPES = [name for name in config.list_recipes() if config.load_recipe(name).use_vllm]
HAS_VLLM = importlib.util.find_spec("vllm") is not None
needs_vllm = pytest.mark.skipif(not HAS_VLLM, reason="vllm is not installed (pip install -e '.[gpu]'); "
                                                     "the snapshot checks in this file ran without it")
UNKNOWN = ...  # the value of a keyword that is not a literal constant in the source


@pytest.fixture(scope="module")
def api():
    """The pinned vllm's API snapshot."""
    assert SNAPSHOT.exists(), (f"no API snapshot for the pinned vllm {VLLM_PIN}: pip download vllm=={VLLM_PIN} "
                               f"--no-deps, then python tests/support/vllm_api_snapshot.py <wheel> "
                               f"-o tests/support/{SNAPSHOT.name}")
    return json.loads(SNAPSHOT.read_text())


@pytest.fixture
def gpu_args(monkeypatch):
    """Let bf16 GRPOConfigs build on a CPU-only machine (transformers checks for a bf16 GPU)."""
    import transformers.training_args as ta

    monkeypatch.setattr(ta, "is_torch_bf16_gpu_available", lambda: True)


# ---------------------------------------------------------------- the checks
def rejected(api, name: str, n_positional: int = 0, keywords: dict | None = None) -> list[str]:
    """What vLLM would refuse in a call of `name` (a snapshot callable) with these arguments: unknown or doubled
    parameters, too many positional arguments, values outside a Literal type (UNKNOWN values are not checked)."""
    spec, keywords = api["callables"][name], keywords or {}
    accepted, literals = set(spec["keywords"]), dict(api["literals"].get(name, {}))
    forward = spec.get("var_keyword")
    if isinstance(forward, str):  # LLM hands **kwargs, and its own arguments under the same names, to EngineArgs
        accepted |= set(api["callables"][forward]["keywords"])
        literals.update(api["literals"].get(forward, {}))
    problems = []
    if n_positional > len(spec["positional"]) and not spec.get("var_positional"):
        problems.append(f"{name} takes {len(spec['positional'])} positional argument(s), got {n_positional}")
    for key, value in keywords.items():
        if key in spec["positional"][:n_positional]:
            problems.append(f"{name}: {key!r} given positionally and by keyword")
        elif key not in accepted and forward is not True:
            problems.append(f"{name} has no parameter {key!r}")
        elif key in literals and value is not UNKNOWN and value not in literals[key]:
            problems.append(f"{name}: {key}={value!r} is not one of {literals[key]}")
    return problems


def imports_that_run(tree: ast.Module, version: str) -> list[tuple[str, str]]:
    """(module, name) of each `from vllm... import name` that runs when vllm `version` is installed.

    Branches on `is_vllm_available(...)`, directly or through a module-level flag set from it, are decided for
    `version`; every other branch is taken.
    """
    def gate(node, flags):
        if isinstance(node, ast.Name):
            return flags.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "is_vllm_available":
            minimum = [a.value for a in node.args] + [k.value.value for k in node.keywords if k.arg == "min_version"]
            return not minimum or Version(version) >= Version(minimum[0])
        return None

    flags = {n.targets[0].id: gate(n.value, {}) for n in tree.body
             if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name) and gate(n.value, {}) is not None}
    found = []

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If):
                decided = gate(node.test, flags)
                visit(node.body if decided is not False else [])
                visit(node.orelse if decided is not True else [])
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "vllm":
                found.extend((node.module, a.name) for a in node.names)
            elif isinstance(node, ast.Import):
                found.extend((a.name, None) for a in node.names if a.name.split(".")[0] == "vllm")
            else:
                visit(ast.iter_child_nodes(node))

    visit(tree.body)
    return found


def import_problems(api, imports) -> list[str]:
    """The imported modules or names the snapshot's modules do not have."""
    problems = []
    for module, name in imports:
        names = api["modules"].get(module)
        if names is None:
            problems.append(f"{module} is not in the snapshot "
                            f"(add it to MODULES in tests/support/vllm_api_snapshot.py)")
        elif name is not None and name not in names:
            problems.append(f"{module} has no {name!r}")
    return problems


def _constant(node):
    return node.value if isinstance(node, ast.Constant) else UNKNOWN


def _dict_keys(scope, var: str) -> dict:
    """Keys (with constant values) put into the dict `var` inside `scope`: `var = {...}` and `var["k"] = ...`."""
    keys = {}
    for node in ast.walk(scope):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id == var and isinstance(node.value, ast.Dict):
                keys.update({k.value: _constant(v) for k, v in zip(node.value.keys, node.value.values)
                             if isinstance(k, ast.Constant)})
            elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == var
                  and isinstance(target.slice, ast.Constant)):
                keys[target.slice.value] = _constant(node.value)
    return keys


def calls_of(tree: ast.Module, name: str) -> list[tuple[int, dict]]:
    """(positional count, {keyword: constant or UNKNOWN}) of each `name(...)` call; a `**d` spread of a dict built
    in the same function contributes that dict's literal keys."""
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    found = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == name):
            continue
        keywords = {k.arg: _constant(k.value) for k in call.keywords if k.arg is not None}
        for spread in (k.value for k in call.keywords if k.arg is None and isinstance(k.value, ast.Name)):
            scope = [f for f in functions if any(n is call for n in ast.walk(f))][-1]  # innermost function
            keywords.update(_dict_keys(scope, spread.id))
        found.append((len(call.args), keywords))
    return found


def llm_method_calls(tree: ast.Module) -> list[tuple[str, int, dict]]:
    """(method, positional count, keywords) of each `<...>.llm.<method>(...)` call."""
    return [(n.func.attr, len(n.args), {k.arg: _constant(k.value) for k in n.keywords if k.arg})
            for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Attribute) and n.func.value.attr == "llm"]


def engine_attributes(tree: ast.Module) -> set[tuple[str, str]]:
    """(class, attribute) read through `<...>.llm.llm_engine.<attribute>`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            if node.attr == "llm_engine" and node.value.attr == "llm":
                found.add(("LLM", "llm_engine"))
            elif node.value.attr == "llm_engine":
                found.add(("LLMEngine", node.attr))
    return found


def trl_tree(name: str) -> ast.Module:
    return ast.parse((TRL_DIR / name).read_text())


# ---------------------------------------------------------------- the checks can fail
def test_the_checks_reject_what_vllm_would(api):
    assert rejected(api, "LLM", 1, {"dtype": "bfloat16", "max_lora_rank": 64, "enable_lora": True}) == []
    assert rejected(api, "LLM", 0, {"model": "m", "max_lora_ranks": 32}) == ["LLM has no parameter 'max_lora_ranks'"]
    assert rejected(api, "LLM", 2)  # only `model` may be positional
    assert rejected(api, "LLM", 1, {"model": "m"})  # given twice
    assert rejected(api, "LLM", 0, {"dtype": "bf16"})  # not a vLLM dtype name
    assert rejected(api, "LLM", 0, {"max_lora_rank": 24})  # not one of vLLM's ranks
    assert rejected(api, "SamplingParams", 0, {"max_new_tokens": 8})  # transformers' name for max_tokens
    assert rejected(api, "SamplingParams", 0, {"_eos_token_id": 2})  # internal state, not an input
    assert rejected(api, "LoRARequest", 8)
    assert rejected(api, "LLM.generate", 1, {"lora_requests": None})
    source = ast.parse("def f(self):\n    kw = {'n': 1}\n    kw['best_of'] = 2\n    SamplingParams(**kw)\n"
                       "    self.llm.sleep(level=2, tags=[])\n    self.llm.llm_engine.executor\n")
    assert calls_of(source, "SamplingParams") == [(0, {"n": 1, "best_of": 2})]
    assert rejected(api, "SamplingParams", 0, {"n": 1, "best_of": 2}) == ["SamplingParams has no parameter 'best_of'"]
    assert rejected(api, "LLM.sleep", 0, llm_method_calls(source)[0][2])
    assert ("LLMEngine", "executor") in engine_attributes(source)
    assert "executor" not in api["attributes"]["LLMEngine"]
    gated = ast.parse("if is_vllm_available(min_version='99.0'):\n    from vllm.new import thing\n"
                      "elif is_vllm_available():\n    from vllm import Nope, LLM\n")
    assert imports_that_run(gated, VLLM_PIN) == [("vllm", "Nope"), ("vllm", "LLM")]
    assert import_problems(api, imports_that_run(gated, VLLM_PIN)) == ["vllm has no 'Nope'"]
    assert import_problems(api, [("vllm.nowhere", "x")])


# ---------------------------------------------------------------- the snapshot and the pins
def test_snapshot_is_of_the_pinned_vllm(api):
    assert api["vllm_version"] == VLLM_PIN
    assert api["callables"]["LLM"]["var_keyword"] == "EngineArgs"  # LLM(**kwargs) reaches EngineArgs
    assert len(api["callables"]["EngineArgs"]["keywords"]) > 100 and api["source"]["file"].endswith(".whl")


def test_pinned_vllm_is_inside_trls_supported_window():
    source = (TRL_DIR / "import_utils.py").read_text()
    low, high = re.search(r'Version\("([\d.]+)"\) <= _vllm_base_version <= Version\("([\d.]+)"\)', source).groups()
    assert Version(low) <= Version(VLLM_PIN) <= Version(high)


def test_every_lora_rank_the_backends_choose_is_a_vllm_rank(api):
    assert set(ad.VLLM_LORA_RANKS) <= set(api["literals"]["EngineArgs"]["max_lora_rank"])


# ---------------------------------------------------------------- the project's calls, recorded
def record_vllm_calls(monkeypatch, api) -> list:
    """Put a fake `vllm` into sys.modules that records (callable, args, kwargs) of every call into the returned list.

    Its engine and outputs carry only attributes the snapshot lists, so reading anything else fails.
    """
    calls = []

    def strict(kind, **attributes):
        unknown = set(attributes) - set(api["attributes"][kind])
        assert not unknown, f"vLLM {VLLM_PIN} {kind} has no {sorted(unknown)}"
        return types.SimpleNamespace(**attributes)

    def recorder(name):
        def call(*args, **kwargs):
            calls.append((name, args, kwargs))
            return types.SimpleNamespace(args=args, kwargs=kwargs)
        return call

    class LLM:
        def __init__(self, *args, **kwargs):
            calls.append(("LLM", args, kwargs))
            config = types.SimpleNamespace(max_model_len=kwargs.get("max_model_len") or 128)
            self.llm_engine = strict("LLMEngine", model_config=config)

        def generate(self, *args, **kwargs):
            calls.append(("LLM.generate", args, kwargs))
            one = strict("CompletionOutput", text="7", token_ids=[5, 2], finish_reason="stop")
            return [strict("RequestOutput", outputs=[one]) for _ in args[0]]

    assert {"llm_engine", "generate"} <= set(api["attributes"]["LLM"])
    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, recorder("SamplingParams")
    vllm.lora = types.ModuleType("vllm.lora")
    vllm.lora.request = types.ModuleType("vllm.lora.request")
    vllm.lora.request.LoRARequest = recorder("LoRARequest")
    for module in (vllm, vllm.lora, vllm.lora.request):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    return calls


@pytest.fixture
def checkpoints(tmp_path):
    """Adapter folders as open_vllm reads them, with the ranks the recipes train (4: smallest ablation, 32: Tina,
    128: the released rank-ablation checkpoint)."""
    found = {"base": None}
    for rank in (4, 32, 128):
        path = tmp_path / f"checkpoint-r{rank}"
        path.mkdir()
        (path / "adapter_config.json").write_text(json.dumps({"r": rank}))
        (path / "adapter_model.safetensors").write_bytes(b"")
        found[path.name] = path
    return found


def run_open_vllm(monkeypatch, api, base, checkpoints, preset) -> list:
    """Open the vLLM backend on the fake, generate for every checkpoint, close; the recorded calls."""
    calls = record_vllm_calls(monkeypatch, api)
    backend = eb.open_vllm(str(base), checkpoints, preset)
    for name in checkpoints:
        backend.generate(name, [[1, 2, 3], [4, 5]], [0, 1])
    backend.close()
    return calls


def problems_of(api, calls) -> list[str]:
    return [p for name, args, kwargs in calls for p in rejected(api, name, len(args), kwargs)]


@pytest.mark.parametrize("preset", sorted(core.PRESETS))
def test_open_vllm_passes_only_what_vllm_accepts(preset, monkeypatch, api, checkpoints, tmp_path):
    calls = run_open_vllm(monkeypatch, api, tmp_path, checkpoints, core.get_preset(preset))
    assert [c[0] for c in calls].count("LLM") == 1 and [c[0] for c in calls].count("LoRARequest") == 3
    assert {c[0] for c in calls} == {"LLM", "SamplingParams", "LoRARequest", "LLM.generate"}
    assert problems_of(api, calls) == []


def test_merged_vllm_passes_only_what_vllm_accepts(monkeypatch, api, checkpoints, tmp_path):
    monkeypatch.setenv("TINA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(eb, "merge_adapter", lambda base, adapter, out_dir, dtype: Path(out_dir))  # not under test
    calls = record_vllm_calls(monkeypatch, api)
    backend = eb.open_merged(str(tmp_path), checkpoints, core.get_preset("paper"), "vllm")
    for name in checkpoints:
        backend.generate(name, [[1, 2, 3]], [0])
    backend.close()
    assert [c[0] for c in calls].count("LLM") == len(checkpoints) and "LoRARequest" not in {c[0] for c in calls}
    assert problems_of(api, calls) == []


def test_the_projects_vllm_imports_exist(api):
    imports = [pair for path in sorted((ROOT / "tina_utils").rglob("*.py"))
               for pair in imports_that_run(ast.parse(path.read_text()), VLLM_PIN)]
    assert ("vllm.lora.request", "LoRARequest") in imports
    assert import_problems(api, imports) == []


# ---------------------------------------------------------------- TRL 1.16's calls, read from its source
def test_trl_imports_from_vllm_exist(api):
    imports = [pair for name in TRL_FILES for pair in imports_that_run(trl_tree(name), VLLM_PIN)]
    assert ("vllm", "LLM") in imports and ("vllm.sampling_params", "StructuredOutputsParams") in imports
    assert import_problems(api, imports) == []


def test_trl_colocate_engine_keywords_exist(api):
    calls = calls_of(trl_tree("generation/vllm_generation.py"), "LLM")
    assert len(calls) == 1 and {"gpu_memory_utilization", "max_model_len", "enable_sleep_mode"} <= set(calls[0][1])
    assert [p for n, keywords in calls for p in rejected(api, "LLM", n, keywords)] == []


def test_trl_sampling_and_structured_output_keywords_exist(api):
    tree = trl_tree("generation/vllm_generation.py")
    sampling = calls_of(tree, "SamplingParams")
    assert len(sampling) == 1 and {"n", "temperature", "top_p", "top_k", "max_tokens"} <= set(sampling[0][1])
    structured = calls_of(tree, "StructuredOutputsParams")
    checked = [("SamplingParams", *c) for c in sampling] + [("StructuredOutputsParams", *c) for c in structured]
    assert [p for name, n, keywords in checked for p in rejected(api, name, n, keywords)] == []


def test_trl_engine_methods_and_attributes_exist(api):
    calls = [c for name in TRL_FILES for c in llm_method_calls(trl_tree(name))]
    assert {"generate", "sleep", "wake_up", "reset_prefix_cache"} <= {method for method, _, _ in calls}
    missing = sorted({m for m, _, _ in calls if f"LLM.{m}" not in api["callables"]})
    assert missing == []
    assert [p for m, n, keywords in calls for p in rejected(api, f"LLM.{m}", n, keywords)] == []
    read = {pair for name in TRL_FILES for pair in engine_attributes(trl_tree(name))}
    assert ("LLMEngine", "model_config") in read
    assert sorted(pair for pair in read if pair[1] not in api["attributes"][pair[0]]) == []


def test_every_vllm_recipes_generation_kwargs_reach_sampling_params(api, tmp_path, gpu_args):
    """TRL merges GRPOConfig.generation_kwargs (the recipes' sampling temperature) into its SamplingParams dict."""
    (_, keywords), = calls_of(trl_tree("generation/vllm_generation.py"), "SamplingParams")
    assert VLLM_RECIPES
    for name in VLLM_RECIPES:
        args = to_grpo_config(config.load_recipe(name), tmp_path / name, world_size=1)
        assert args.vllm_mode in ("colocate", "server"), name
        merged = {**keywords, **(args.generation_kwargs or {})}
        assert rejected(api, "SamplingParams", 0, merged) == [], name


# ---------------------------------------------------------------- with vllm installed: the live API
def live_keywords() -> dict:
    """Keyword parameter names of the installed vllm's classes and public LLM methods, keyed as in the snapshot."""
    from vllm import LLM, CompletionOutput, EngineArgs, LLMEngine, RequestOutput, SamplingParams
    from vllm.lora.request import LoRARequest
    from vllm.sampling_params import StructuredOutputsParams

    def parameters(fn):
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return sorted(p.name for p in inspect.signature(fn).parameters.values()
                      if p.kind in kinds and p.name not in ("self", "cls"))

    def fields(cls):
        names = ([f.name for f in dataclasses.fields(cls) if f.init] if dataclasses.is_dataclass(cls)
                 else list(cls.__struct_fields__))
        return sorted(n for n in names if not n.startswith("_"))

    out = {"LLM": parameters(LLM.__init__), "LLMEngine": parameters(LLMEngine.__init__),
           "RequestOutput": parameters(RequestOutput.__init__)}
    out.update({cls.__name__: fields(cls) for cls in (EngineArgs, SamplingParams, StructuredOutputsParams,
                                                       LoRARequest, CompletionOutput)})
    methods = [n for n, v in vars(LLM).items() if not n.startswith("_")
               and (inspect.isfunction(v) or isinstance(v, (classmethod, staticmethod)))]
    out.update({f"LLM.{name}": parameters(getattr(LLM, name)) for name in methods})
    return out


def installed_version() -> str:
    from importlib.metadata import version

    return version("vllm")


@needs_vllm
def test_snapshot_matches_the_installed_vllm(api):
    if installed_version() != api["vllm_version"]:
        pytest.skip(f"installed vllm {installed_version()} is not the snapshot's {api['vllm_version']}")
    live = live_keywords()
    assert {name: api["callables"][name]["keywords"] for name in live} == live
    assert {name for name in api["callables"] if name.startswith("LLM.")} == {n for n in live if n.startswith("LLM.")}


@needs_vllm
def test_recorded_calls_build_real_vllm_objects(monkeypatch, api, checkpoints, tmp_path, gpu_args):
    """The project's and TRL's arguments, values included, pass the real constructors' own checks."""
    from vllm import EngineArgs, SamplingParams
    from vllm.lora.request import LoRARequest

    real = {"SamplingParams": SamplingParams, "LoRARequest": LoRARequest}
    for preset in sorted(core.PRESETS):
        with monkeypatch.context() as patch:
            calls = run_open_vllm(patch, api, tmp_path, checkpoints, core.get_preset(preset))
        for name, args, kwargs in calls:
            if name == "LLM":
                EngineArgs(*args, **kwargs)  # LLM hands these to EngineArgs (the model must exist: it is resolved)
            elif name in real:
                real[name](*args, **kwargs)
    (_, keywords), = calls_of(trl_tree("generation/vllm_generation.py"), "SamplingParams")
    for name in VLLM_RECIPES:
        args = to_grpo_config(config.load_recipe(name), tmp_path / name, world_size=1)
        # The values GRPOTrainer hands VLLMGeneration for its colocate SamplingParams dict (logprobs=0 is TRL's own).
        values = {"n": 1, "repetition_penalty": args.repetition_penalty, "temperature": args.temperature,
                  "top_p": args.top_p, "top_k": args.top_k, "min_p": args.min_p or 0.0,
                  "max_tokens": args.max_completion_length, "logprobs": 0}
        assert set(values) == set(keywords) - {"structured_outputs"}  # set only with vllm_structured_outputs_regex
        SamplingParams(**{**values, **(args.generation_kwargs or {})})
