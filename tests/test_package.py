"""The package's shape: no import cycle between its modules, and remote code that needs nothing of the package."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "notellm_hf"
REMOTE_CODE = PACKAGE / "models" / "notellm"
REMOTE_FILES = sorted(p.name for p in REMOTE_CODE.glob("*.py") if p.name != "__init__.py")
THIRD_PARTY_ALLOWED_IN_REMOTE_CODE = {"torch", "transformers", "sentence_transformers", "tqdm"}
# Module-level calls the remote code may make: building constants, nothing with side effects.
PURE_CALLS_AT_IMPORT = {"PromptTemplate", "SubConfigSpec", "tuple", "re.compile"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Package modules that ``path`` imports at any depth of its code, function bodies included (relative imports
    resolved; ``from package import name`` counts as importing ``package.name`` when that is a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            origin = f"{base}.{node.module}" if node.level and node.module else (base if node.level else node.module)
            targets = [origin] + [f"{origin}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            # Importing a.b.c runs the packages a and a.b first: those are imports too.
            parts = target.split(".")
            found |= {".".join(parts[:end]) for end in range(1, len(parts) + 1)} & modules
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    paths = {module_name(p): p for p in root.rglob("*.py")}
    return {name: imported_modules(path, set(paths)) for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of module imports as a list of modules (first == last), or None. A package importing its own
    submodules is no cycle: only edges from a submodule up to a package ``__init__`` it sits in are skipped."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def edges(module: str) -> set[str]:
        return {m for m in graph[module] if m != module and not module.startswith(m + ".")}

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(edges(module)):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p": {"p.a"}}
    assert find_cycle(graph) == ["p.a", "p.b", "p.c", "p.a"]
    assert find_cycle({"p.a": {"p.b"}, "p.b": set(), "p": {"p.a", "p.b"}}) is None


def test_no_import_cycle_inside_the_package():
    graph = import_graph(PACKAGE)
    assert "notellm_hf.evaluation.report" in graph and graph["notellm_hf.cli"]  # the walk sees the package
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


@pytest.mark.parametrize("name", REMOTE_FILES)
def test_remote_code_imports_only_its_siblings_and_allowed_libraries(name):
    tree = ast.parse((REMOTE_CODE / name).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1 and f"{node.module}.py" in REMOTE_FILES, (
                f"{name}: from {'.' * node.level}{node.module}"
            )
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for module in modules:
                top = module.split(".")[0]
                assert top in THIRD_PARTY_ALLOWED_IN_REMOTE_CODE or top in sys.stdlib_module_names, f"{name}: {module}"


@pytest.mark.parametrize("name", REMOTE_FILES)
def test_remote_code_only_defines_things_at_import(name):
    tree = ast.parse((REMOTE_CODE / name).read_text())
    allowed = (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef, ast.Assign, ast.AnnAssign)
    for node in tree.body:
        is_docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        assert isinstance(node, allowed) or is_docstring, f"{name}:{node.lineno} runs code at import"
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            calls = [ast.unparse(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)]
            assert set(calls) <= PURE_CALLS_AT_IMPORT, f"{name}:{node.lineno} calls {set(calls) - PURE_CALLS_AT_IMPORT}"


def test_training_and_evaluation_import_without_duckdb_or_faiss():
    """Pair building (DuckDB) and the serving index (faiss) are imported where they run, so a machine that only trains
    and scores (a GPU image with neither installed) can import the package, the recipe and the evaluation."""
    script = (
        "import sys\n"
        "sys.modules['duckdb'] = sys.modules['faiss'] = None  # importing either now raises ImportError\n"
        "import notellm_hf, notellm_hf.training.recipe, notellm_hf.evaluation, notellm_hf.retrieval\n"
        "from notellm_hf.data import load_pairs, prepared_slice\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
