"""Extract the vLLM API names this project and TRL call from a vllm wheel or package folder, without importing it.

Reads the Python source with `ast`, so it needs only the wheel (320 MB), not vllm's CUDA dependencies:

    cd tests/support
    python vllm_api_snapshot.py vllm-0.31.0-cp38-abi3-manylinux_2_28_x86_64.whl -o vllm_0.31.0_api.json
    python vllm_api_snapshot.py ../../.venv/lib/python3.11/site-packages/vllm -o vllm_0.31.0_api.json

The JSON holds, per callable, the parameters that may be passed positionally (in order) and by keyword (sorted),
the attributes of the classes whose results are read, the Literal values of engine arguments, and the top-level
names of the modules that get imported from. tests/test_vllm_contract.py checks calls against it.
"""

import argparse
import ast
import hashlib
import itertools
import json
import re
import sys
import zipfile
from pathlib import Path

# (snapshot key, file inside the vllm package, class name)
CLASSES = [
    ("LLM", "entrypoints/llm.py", "LLM"),
    ("EngineArgs", "engine/arg_utils.py", "EngineArgs"),
    ("SamplingParams", "sampling_params.py", "SamplingParams"),
    ("StructuredOutputsParams", "sampling_params.py", "StructuredOutputsParams"),
    ("LoRARequest", "lora/request.py", "LoRARequest"),
    ("LLMEngine", "v1/engine/llm_engine.py", "LLMEngine"),
    ("RequestOutput", "outputs.py", "RequestOutput"),
    ("CompletionOutput", "outputs.py", "CompletionOutput"),
]
# Modules that TRL 1.16 (generation/vllm_generation.py, generation/vllm_client.py) and this project import from.
MODULES = ["vllm", "vllm.sampling_params", "vllm.lora.request", "vllm.utils.network_utils",
           "vllm.distributed.weight_transfer.nccl_common", "vllm.distributed.weight_transfer.packed_tensor",
           "vllm.distributed.weight_transfer.nccl_engine"]


class Source:
    """The vllm/*.py files of a wheel or of a folder holding (or being) the installed `vllm` package."""

    def __init__(self, path):
        self.path = Path(path)
        if self.path.is_file():
            self.zip = zipfile.ZipFile(self.path)
            self.names = {n[len("vllm/"):] for n in self.zip.namelist() if n.startswith("vllm/") and n.endswith(".py")}
        else:
            self.zip = None
            self.root = self.path if (self.path / "__init__.py").exists() else self.path / "vllm"
            self.names = {str(p.relative_to(self.root)) for p in self.root.rglob("*.py")}

    def read(self, name: str) -> str:
        """Text of vllm/<name>."""
        return self.zip.read(f"vllm/{name}").decode() if self.zip else (self.root / name).read_text()

    def version(self) -> str:
        """The version vllm/_version.py records (written by the release build)."""
        return re.search(r"__version__ = version = '([^']+)'", self.read("_version.py")).group(1)

    def origin(self) -> dict:
        """File name and sha256 of a wheel; only the folder name for an installed package."""
        if not self.zip:
            return {"file": self.path.name}
        return {"file": self.path.name, "sha256": hashlib.sha256(self.path.read_bytes()).hexdigest()}


def signature(fn: ast.FunctionDef) -> dict:
    """Positional (in order) and keyword parameter names of a def; `self`/`cls` dropped."""
    a = fn.args
    positional = [p.arg for p in a.posonlyargs + a.args]
    if positional and positional[0] in ("self", "cls"):
        positional = positional[1:]
    keywords = [p.arg for p in a.args if p.arg not in ("self", "cls")] + [p.arg for p in a.kwonlyargs]
    out = {"positional": positional, "keywords": sorted(keywords)}
    if a.vararg:
        out["var_positional"] = True
    if a.kwarg:
        out["var_keyword"] = forwards_kwargs_to(fn, a.kwarg.arg) or True
    return out


def forwards_kwargs_to(fn: ast.FunctionDef, name: str) -> str | None:
    """Name of the callable that receives `**name` inside fn (LLM.__init__ hands its kwargs to EngineArgs)."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == name for k in node.keywords):
                return node.func.id
    return None


def _is_classvar(annotation) -> bool:
    return "ClassVar" in ast.unparse(annotation)


def _init_false(value) -> bool:
    return isinstance(value, ast.Call) and any(k.arg == "init" and isinstance(k.value, ast.Constant)
                                               and k.value.value is False for k in value.keywords)


def _kw_only(cls: ast.ClassDef) -> bool:
    """True for @dataclass(kw_only=True) or a msgspec Struct declared with kw_only=True."""
    calls = [d for d in cls.decorator_list if isinstance(d, ast.Call)]
    flags = [k for c in calls for k in c.keywords] + cls.keywords
    return any(k.arg == "kw_only" and isinstance(k.value, ast.Constant) and k.value.value is True for k in flags)


def fields(cls: ast.ClassDef) -> list[ast.AnnAssign]:
    """Constructor fields of a dataclass or msgspec Struct: annotated class attributes, minus ClassVar/init=False."""
    return [s for s in cls.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
            and not _is_classvar(s.annotation) and not _init_false(s.value)]


def is_record(cls: ast.ClassDef) -> bool:
    """True for a @dataclass or a msgspec.Struct, whose constructor is generated from its fields."""
    decorators = [ast.unparse(d) for d in cls.decorator_list]
    bases = [ast.unparse(b) for b in cls.bases]
    return any(d.split("(")[0].endswith("dataclass") for d in decorators) or "msgspec.Struct" in bases


def constructor(cls: ast.ClassDef) -> dict:
    """Parameters of the class's constructor (explicit __init__, else its generated record fields)."""
    init = next((s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
    if init is not None:
        return signature(init)
    names = [s.target.id for s in fields(cls)]
    # Underscored fields are internal state ("not supposed to be used as an input"): never pass them, and stop
    # the positional order at the first one.
    positional = [] if _kw_only(cls) else list(itertools.takewhile(lambda n: not n.startswith("_"), names))
    return {"positional": positional, "keywords": sorted(n for n in names if not n.startswith("_"))}


def attributes(cls: ast.ClassDef) -> list[str]:
    """Public names an instance has: fields, methods, properties and `self.x = ...` set in __init__."""
    names = {s.target.id for s in fields(cls)}
    for s in cls.body:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(s.name)
            if s.name == "__init__":
                for node in ast.walk(s):
                    targets = node.targets if isinstance(node, ast.Assign) else \
                        [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
                    names |= {t.attr for t in targets if isinstance(t, ast.Attribute)
                              and isinstance(t.value, ast.Name) and t.value.id == "self"}
        elif isinstance(s, ast.Assign):
            names |= {t.id for t in s.targets if isinstance(t, ast.Name)}
    return sorted(n for n in names if not n.startswith("_"))


def literal_aliases(source: Source) -> dict:
    """`Name = Literal[...]` aliases of the whole package (names bound to different values are dropped)."""
    found, clash = {}, set()
    for name in sorted(source.names):
        for node in ast.parse(source.read(name)).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target, value = node.targets[0].id, node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                target, value = node.target.id, node.value
            else:
                continue
            values = literal_values(value)
            if values is None:
                continue
            if found.get(target, values) != values:
                clash.add(target)
            found[target] = values
    return {k: v for k, v in found.items() if k not in clash}


def literal_values(node) -> list | None:
    """The constants of `Literal[a, b, ...]`, else None."""
    if not (isinstance(node, ast.Subscript) and ast.unparse(node.value).split(".")[-1] == "Literal"):
        return None
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if not all(isinstance(i, ast.Constant) for i in items):
        return None
    return [i.value for i in items]


def literals(cls: ast.ClassDef, aliases: dict) -> dict:
    """Allowed values of the record fields annotated with a Literal (directly or through an alias name)."""
    out = {}
    for s in fields(cls):
        values = literal_values(s.annotation)
        if values is None and isinstance(s.annotation, ast.Name):
            values = aliases.get(s.annotation.id)
        if values is not None:
            out[s.target.id] = values
    return out


def module_names(tree: ast.Module) -> list[str]:
    """Names a module binds at top level (through if/try blocks too), plus vllm's lazy MODULE_ATTRS exports."""
    names = set()

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
                if any(isinstance(t, ast.Name) and t.id == "MODULE_ATTRS" for t in node.targets):
                    names.update(k.value for k in node.value.keys)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
    visit(tree.body)
    return sorted(n for n in names if n != "*")


def module_file(source: Source, module: str) -> str | None:
    """vllm/<...>.py or vllm/<...>/__init__.py of a dotted module name."""
    rel = "/".join(module.split(".")[1:])
    for name in ([f"{rel}.py", f"{rel}/__init__.py"] if rel else ["__init__.py"]):
        if name in source.names:
            return name
    return None


def snapshot(path) -> dict:
    """The API snapshot of the vllm wheel or package at `path`."""
    source = Source(path)
    aliases = literal_aliases(source)
    out = {"vllm_version": source.version(), "source": source.origin(),
           "callables": {}, "attributes": {}, "literals": {}, "modules": {}}
    for key, name, class_name in CLASSES:
        tree = ast.parse(source.read(name))
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
        out["callables"][key] = constructor(cls)
        out["attributes"][key] = attributes(cls)
        if is_record(cls) and (values := literals(cls, aliases)):
            out["literals"][key] = values
        if key == "LLM":  # the engine methods TRL and the evaluation backends call
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and not fn.name.startswith("_"):
                    out["callables"][f"LLM.{fn.name}"] = signature(fn)
    for module in MODULES:
        name = module_file(source, module)
        out["modules"][module] = module_names(ast.parse(source.read(name))) if name else None
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a vllm wheel, or the installed vllm package folder (or the folder above it)")
    parser.add_argument("-o", "--output", help="JSON file to write (default: print)")
    args = parser.parse_args(argv)
    text = json.dumps(snapshot(args.source), indent=1, sort_keys=True) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
