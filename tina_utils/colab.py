"""Colab and JupyterLab: the repository's URL and ref in one place, the notebooks' bootstrap cell, the runtime check.

    python -m tina_utils.colab --url https://github.com/OWNER/REPO --ref v0.2   # rewrite every Colab link and bootstrap
    python -m tina_utils.colab --check                                        # exit 1 if any link or cell disagrees

The bootstrap cell (right after each notebook's parameters cell) clones the repository at REPO_REF and installs it
when `tina_utils` is not importable — a fresh Colab runtime — and does nothing elsewhere. The environment variables
TINA_REPO_URL and TINA_REPO_REF override the URL and ref (e.g. a local clone). Used in: every notebook, README.
"""

import re
import sys
from pathlib import Path

from tina_utils import devices, env

REPO_URL = "https://github.com/tina-notebooks/tina-notebooks"
REPO_REF = "main"
BOOTSTRAP_FIRST_LINE = "#@title Setup: in Colab (or any kernel without tina_utils) clone and install the repository"
# Colab shows a form cell as its title line; JupyterLab hides the source until clicked.
BOOTSTRAP_METADATA = {"cellView": "form", "jupyter": {"source_hidden": True}}
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w./-]+?/notebooks/"
                        r"(\d\d_\w+\.ipynb)")
PAPER_RUN_NEED_GIB = 40  # rough single-GPU need of a paper training run (1.5B bf16 + LoRA + activations + vLLM's share)


def bootstrap_source(url: str = REPO_URL, ref: str = REPO_REF) -> str:
    """The bootstrap cell's code: clone + install when tina_utils is missing, then the versions and runtime check."""
    return f'''{BOOTSTRAP_FIRST_LINE}
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("tina_utils") is None:
    url, ref = os.environ.get("TINA_REPO_URL", "{url}"), os.environ.get("TINA_REPO_REF", "{ref}")
    if not os.path.isdir("tina-notebooks"):
        subprocess.run(["git", "clone", "--quiet", url, "tina-notebooks"], check=True)
        subprocess.run(["git", "-C", "tina-notebooks", "checkout", "--quiet", ref], check=True)
    extra = "[gpu]" if profile == "paper" and os.system("nvidia-smi -L > /dev/null 2>&1") == 0 else ""  # vLLM on GPUs
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", "tina-notebooks" + extra], check=True)
    sys.path.insert(0, os.path.abspath("tina-notebooks"))
    print(f"installed tina_utils{{extra}} from {{url}} at {{ref}}")
importlib.import_module("tina_utils.colab").check_runtime(profile)'''


def colab_url(notebook: str, url: str = REPO_URL, ref: str = REPO_REF) -> str:
    """The Open-in-Colab address of `notebook` (a file name under notebooks/)."""
    owner_repo = re.sub(r"^https://github\.com/|\.git$", "", url.rstrip("/"))
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{ref}/notebooks/{notebook}"


def runtime_warnings(profile: str, gpu: dict | None) -> list[str]:
    """What the runtime lacks for `profile`: a GPU, bf16, memory."""
    if profile != "paper":
        return []
    if gpu is None:
        return ["WARNING: the paper profile needs a CUDA GPU and this runtime has none: switch the runtime to a GPU "
                "(Colab: Runtime > Change runtime type), or run the paper path on the CPU with model 'r1-mini'"]
    found = []
    if not gpu["bf16"]:
        found.append(f"WARNING: {gpu['name']} has no bfloat16 (e.g. a T4): Tina's recipes train in bf16; "
                     f"use an Ampere or newer GPU (A100, L4, L40S, H100)")
    if gpu["memory_gib"] < PAPER_RUN_NEED_GIB:
        found.append(f"WARNING: {gpu['name']} has {gpu['memory_gib']} GiB; a paper training run on one GPU needs about "
                     f"{PAPER_RUN_NEED_GIB} GiB (lower vllm_gpu_memory_utilization or use a larger GPU)")
    return found


def check_runtime(profile: str, say=print) -> dict | None:
    """Print the stack's versions (warning where one is not its pin), and on the paper profile the GPU, with a
    warning where the runtime cannot serve it."""
    for line in env.version_lines():
        say(line)
    gpu = devices.gpu_info()
    if profile == "paper" and gpu is not None:
        say(f"GPU: {gpu['name']}, {gpu['memory_gib']} GiB, bf16 {'yes' if gpu['bf16'] else 'no'}")
    for line in runtime_warnings(profile, gpu):
        say(line)
    return gpu


# ---------------------------------------------------------------- one URL, rewritten everywhere
def _notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _with_bootstrap(nb, source: str) -> bool:
    """Put `source` in the notebook's bootstrap cell (created right after the parameters cell); True if changed."""
    import nbformat

    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(BOOTSTRAP_FIRST_LINE)]
    if cells:
        changed = cells[0].source != source or not _collapsed(cells[0])
        cells[0].source = source
        cells[0].metadata.update(BOOTSTRAP_METADATA)
        return changed
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata=dict(BOOTSTRAP_METADATA)))
    return True


def _collapsed(cell) -> bool:
    return all(cell.metadata.get(key) == value for key, value in BOOTSTRAP_METADATA.items())


def _with_badge(nb, name: str, url: str, ref: str) -> bool:
    """Add an Open-in-Colab badge to the notebook's header cell when it has none; True if changed."""
    header = nb.cells[0]
    if COLAB_LINK.search(header.source):
        return False
    header.source = header.source.rstrip() + "\n\n" + BADGE.format(url=colab_url(name, url, ref))
    return True


def rewrite(url: str = REPO_URL, ref: str = REPO_REF, root: Path | None = None) -> list[Path]:
    """Write `url`/`ref` into this module, every notebook's bootstrap cell and every Colab link of the checkout at
    `root` (default: this one); returns the changed files."""
    import nbformat

    root = Path(root or env.repo_root())
    changed = []
    module = root / "tina_utils" / "colab.py"
    text = module.read_text()
    new = re.sub(r'^REPO_URL = ".*"$', f'REPO_URL = "{url}"', text, count=1, flags=re.M)
    new = re.sub(r'^REPO_REF = ".*"$', f'REPO_REF = "{ref}"', new, count=1, flags=re.M)
    if new != text:
        module.write_text(new)
        changed.append(module)
    for path in _notebooks(root):
        nb = nbformat.read(path, as_version=4)
        dirty = _with_bootstrap(nb, bootstrap_source(url, ref))
        dirty = _with_badge(nb, path.name, url, ref) or dirty
        for cell in nb.cells:
            if cell.cell_type == "markdown" and COLAB_LINK.search(cell.source):
                updated = COLAB_LINK.sub(lambda m: colab_url(m.group(1), url, ref), cell.source)
                dirty, cell.source = dirty or updated != cell.source, updated
        if dirty:
            nbformat.write(nb, path)
            changed.append(path)
    readme = root / "README.md"
    text = readme.read_text()
    new = COLAB_LINK.sub(lambda m: colab_url(m.group(1), url, ref), text)
    if new != text:
        readme.write_text(new)
        changed.append(readme)
    return changed


def disagreements(url: str = REPO_URL, ref: str = REPO_REF, root: Path | None = None) -> list[str]:
    """Every Colab link or bootstrap cell of the checkout at `root` that does not come from `url`/`ref`."""
    import nbformat

    root = Path(root or env.repo_root())
    found = []
    texts = {root / "README.md": (root / "README.md").read_text()}
    for path in _notebooks(root):
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if c.source.startswith(BOOTSTRAP_FIRST_LINE)]
        if [c.source for c in cells] != [bootstrap_source(url, ref)] or not _collapsed(cells[0]):
            found.append(f"{path.name}: bootstrap cell missing, not collapsed or not from {url} at {ref}")
        if not COLAB_LINK.search(nb.cells[0].source):
            found.append(f"{path.name}: no Open-in-Colab badge in the header")
        texts[path] = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for path, text in texts.items():
        for match in COLAB_LINK.finditer(text):
            if match.group(0) != colab_url(match.group(1), url, ref):
                found.append(f"{path.name}: {match.group(0)}")
    return found


def run(argv: list[str]) -> int:
    """`--url/--ref` rewrite everything; `--check` lists disagreements (exit 1 when any)."""
    parser = env.cli_parser(prog="python -m tina_utils.colab", description=__doc__)
    parser.add_argument("--url", help=f"repository URL (now {REPO_URL})")
    parser.add_argument("--ref", help=f"branch, tag or commit the bootstrap checks out (now {REPO_REF})")
    parser.add_argument("--check", action="store_true", help="only report links and cells that disagree")
    args = parser.parse_args(argv)
    if args.check:
        problems = disagreements()
        print("\n".join(problems) or f"every Colab link and bootstrap cell uses {REPO_URL} at {REPO_REF}")
        return 1 if problems else 0
    if args.url and not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+?(\.git)?/?", args.url):
        raise ValueError(f"--url {args.url!r} must be a GitHub repository URL such as https://github.com/OWNER/REPO "
                         f"(Colab opens notebooks from GitHub)")
    for path in rewrite(args.url or REPO_URL, args.ref or REPO_REF):
        print(f"rewrote {path.relative_to(env.repo_root())}")
    return 0


if __name__ == "__main__":
    sys.exit(env.run_cli(run, sys.argv[1:]))
