"""The package is laid out by notebook stage, its imports go one way, and no module of the flat layout is left.

Run: pytest tests/test_layout.py
"""

import ast
import importlib
import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tina_utils"
SHARED = {"__init__", "env", "runs", "devices", "paper", "pipeline", "grid", "executors", "plan", "claims",
          "colab"}
SHARED_PACKAGES = {
    "worlds": {"__init__", "tiny", "r1_mini", "save"},
    "transition": {"__init__", "logs", "detect", "online"},
    "plots": {"__init__", "__main__", "style", "registry", "inputs", "paper", "runs", "phase", "seeds", "comparisons"},
}
STAGES = {
    "data": {"__init__", "findings", "train_sets", "benchmarks", "prompts", "sources", "local_files"},
    "rewards": {"__init__", "functions", "grading", "grading_pool", "verifier"},
    "train": {"__init__", "__main__", "findings", "recipe_schema", "config", "recipe_map", "runner", "runlog",
              "samples", "grouped_trainer", "machine", "memory"},
    "evaluate": {"__init__", "__main__", "cli", "core", "cache", "backends", "checkpoint_sweep", "adapters", "findings",
                 "lighteval_grader", "lighteval_side", "merge_rounding", "shards", "stats", "scoring", "provenance",
                 "paper_verdict", "selection"},
    "cost": {"__init__", "__main__", "accounting", "estimate", "findings"},
    "phase": {"__init__", "report", "early_stop", "replay", "findings"},
}
# A stage may import only stages before it. The grader (rewards) comes first: preparing data checks that golds parse.
STAGE_ORDER = ("rewards", "data", "train", "evaluate", "cost", "phase")
# What every stage stands on imports no stage (the offline worlds may use data's chat templates).
FOUNDATION = {"env", "runs", "devices", "paper", "transition"}
FLAT = ["adapters", "benchmarks", "config", "cost", "data", "early_stop", "eval_backends", "eval_sweep", "evaluate",
        "grading", "grading_pool", "grouped_trainer", "phase", "phase_online", "phase_report", "prompts", "recipe_map",
        "recipe_schema", "reference", "rewards", "runlog", "samples", "sources", "train", "train_logs", "tiny",
        "r1_mini", "worlds"]
CHECKPOINT_TEXT = re.compile(r"checkpoint-\*|[\"']checkpoint-|fullmatch\(r\"checkpoint|\"02_train\"")


def module_name(path: Path, root: Path) -> str:
    """Dotted name of a .py file under `root`'s parent (a package's __init__.py is the package)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """{module: modules of the package it imports}, from every import statement, at module level or in a function.

    `from pkg import name` is an edge to the submodule pkg.name when there is one, else to pkg itself.
    """
    files = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                edges |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base for alias in node.names}
        graph[name] = {edge for edge in edges if edge in files and edge != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_each_stage_is_a_package_with_its_modules():
    assert {path.stem for path in PACKAGE.glob("*.py")} == SHARED
    found = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert found == set(STAGES) | set(SHARED_PACKAGES)
    for package, modules in {**STAGES, **SHARED_PACKAGES}.items():
        assert {path.stem for path in (PACKAGE / package).glob("*.py")} == modules, package
    assert (PACKAGE / "train" / "recipes" / "tina.yaml").exists()
    assert (PACKAGE / "train" / "recipes" / "accelerate" / "zero2.yaml").exists()


def top_level(module: str) -> str:
    """'tina_utils.evaluate.core' -> 'evaluate', 'tina_utils.runs' -> 'runs', 'tina_utils' -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def edges_against_the_order(graph: dict[str, set[str]]) -> list[str]:
    """Imports from a stage into a later stage, or from the foundation into any stage."""
    bad = []
    for module, imported in graph.items():
        source = top_level(module)
        for target in imported:
            goal = top_level(target)
            stages = source in STAGE_ORDER and goal in STAGE_ORDER
            later = stages and STAGE_ORDER.index(goal) > STAGE_ORDER.index(source)
            if later or (source in FOUNDATION and goal in STAGE_ORDER):
                bad.append(f"{module} -> {target}")
    return sorted(bad)


def test_no_import_runs_against_the_stage_order():
    graph = import_graph(PACKAGE)
    assert "tina_utils.transition.online" in graph["tina_utils.train.runner"]  # the graph sees function-level imports
    assert edges_against_the_order(graph) == []


def test_the_order_check_catches_a_stage_importing_a_later_one():
    graph = {"tina_utils.train.memory": {"tina_utils.evaluate.core"}, "tina_utils.runs": {"tina_utils.train.runlog"},
             "tina_utils.evaluate.core": {"tina_utils.train.machine", "tina_utils.runs"}}
    assert edges_against_the_order(graph) == ["tina_utils.runs -> tina_utils.train.runlog",
                                              "tina_utils.train.memory -> tina_utils.evaluate.core"]


def test_checkpoint_names_and_the_run_dir_rule_live_in_the_run_module():
    hits = [f"{path.relative_to(ROOT)}:{number}" for path in sorted(PACKAGE.rglob("*.py")) if path.name != "runs.py"
            for number, line in enumerate(path.read_text().splitlines(), 1)
            if CHECKPOINT_TEXT.search(line) and not line.lstrip().startswith("#")]
    assert hits == []
    assert CHECKPOINT_TEXT.search('run_dir.glob("checkpoint-*")') and CHECKPOINT_TEXT.search('f"checkpoint-{step}"')
    assert CHECKPOINT_TEXT.search('env.results_dir("02_train") / run_id')


def test_no_module_of_the_flat_layout_is_left():
    assert [name for name in FLAT if (PACKAGE / f"{name}.py").exists()] == []
    assert not (PACKAGE / "recipes").exists()


def test_no_import_cycle_among_the_package_modules():
    graph = import_graph(PACKAGE)
    assert "tina_utils.evaluate.core" in graph["tina_utils.evaluate.checkpoint_sweep"]  # the graph sees imports
    assert "tina_utils.rewards.verifier" in graph["tina_utils.rewards.grading_pool"]  # also inside functions
    assert import_cycles(graph) == []


def test_the_cycle_check_catches_a_cycle_through_a_function_level_import(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub.a import f\n")
    (package / "sub" / "a.py").write_text("from pkg.sub import b\n\ndef f():\n    return b\n")
    (package / "sub" / "b.py").write_text("def g():\n    from pkg.sub.a import f\n    return f\n")
    (package / "c.py").write_text("from .sub import b\n")
    graph = import_graph(package)
    assert graph["pkg.c"] == {"pkg.sub.b"} and graph["pkg.sub"] == {"pkg.sub.a"}
    assert import_cycles(graph) == [["pkg.sub.a", "pkg.sub.b"]]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_exports_its_api_and_no_name_hides_a_submodule(stage):
    package = importlib.import_module(f"tina_utils.{stage}")
    assert package.__all__ and all(hasattr(package, name) for name in package.__all__)
    assert not set(package.__all__) & STAGES[stage], "a function named like a submodule hides it"


def test_package_data_ships_the_recipes():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, patterns in data.items():
        folder = ROOT.joinpath(*package.split("."))
        assert all(list(folder.glob(pattern)) for pattern in patterns), package
    assert "tina_utils.train" in data
