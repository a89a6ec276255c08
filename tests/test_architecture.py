"""The architecture's rules (docs/architecture.md), checked on every test run.

* the import contracts in pyproject.toml (``[tool.importlinter]``), run through ``lint-imports``;
* what import-linter cannot express: only ``spikefit.results`` writes Parquet, parsing a job
  spec loads neither Optuna, Ray nor pandas, modules stay under 400 lines, public packages
  define ``__all__`` (and their lazy re-exports point at names that exist), and every module
  has its mirror test file.

Each checker also runs once on a planted violation (the ``*_catches_*`` tests), in a copy of
the sources under ``tmp_path``, so that a check that silently stopped looking shows up here.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: repository folder -> the import package it is installed as
SOURCES = {"fitter": "spikefit", "models": "spikefit.models"}
MAX_LINES = 400


def python_files(root: Path = ROOT) -> list[Path]:
    """Every module of spikefit and spikefit.models (fitter/ and models/), sorted."""
    return sorted(p for folder in SOURCES for p in (root / folder).rglob("*.py")
                  if "__pycache__" not in p.parts)


def rel(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix()


# -- import contracts (pyproject.toml [tool.importlinter]) ------------------------------------

def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """Run the environment's ``lint-imports`` in ``cwd`` (it reads cwd/pyproject.toml)."""
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.fail("lint-imports not found: install import-linter (pip install import-linter) "
                        "in the environment that runs the tests")
        exe = Path(found)
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_import_contracts_are_kept():
    run = lint_imports(ROOT)
    assert run.returncode == 0, f"lint-imports: a contract in pyproject.toml is broken\n{run.stdout}{run.stderr}"


def stage_sources(dest: Path) -> Path:
    """A copy of the sources laid out as lint-imports and Python see them: dest/spikefit (fitter/),
    dest/models and dest/pyproject.toml. On sys.path before the editable install, it wins."""
    for folder, target in (("fitter", "spikefit"), ("models", "models")):
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            out = dest / target / path.relative_to(ROOT / folder)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
    shutil.copyfile(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def plant(dest: Path, module: str, source: str) -> None:
    path = dest.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(source)


def test_import_contracts_catch_planted_imports(tmp_path):
    dest = stage_sources(tmp_path)
    plant(dest, "spikefit.data._planted_optuna", "import optuna\n")
    plant(dest, "spikefit.scoring._planted_ray", "import ray\n")
    plant(dest, "spikefit.data._planted_upward", "from spikefit.execution import driver\n")
    plant(dest, "spikefit._planted_unlayered", "")  # a new top-level module without a layer
    plant(dest, "models._planted", "from spikefit.data import recording\n")
    plant(dest, "spikefit.spec._planted", "from spikefit.search import study\n")  # -> optuna, pandas
    plant(dest, "spikefit.search._planted_a", "from spikefit.search import _planted_b\n")
    plant(dest, "spikefit.search._planted_b", "from spikefit.search import _planted_a\n")
    run = lint_imports(dest)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    for planted in ("spikefit.data._planted_optuna -> optuna", "spikefit.scoring._planted_ray -> ray",
                    "spikefit.data._planted_upward -> spikefit.execution.driver", "_planted_unlayered",
                    "models._planted -> spikefit.data.recording", "spikefit.spec._planted -> spikefit.search.study",
                    "_planted_a"):
        assert planted in out, f"lint-imports did not report {planted!r}:\n{out}"
    assert "KEPT" not in out.split("Broken contracts")[0], f"a contract missed its planted violation:\n{out}"


# -- only spikefit.results writes Parquet ---------------------------------------------------

#: methods that write Parquet whatever object they are called on (pandas, polars)
PARQUET_METHODS = {"to_parquet", "write_parquet"}
#: functions and classes that write Parquet, by qualified name
PARQUET_WRITERS = {"pyarrow.parquet.write_table", "pyarrow.parquet.write_to_dataset",
                   "pyarrow.parquet.write_metadata", "pyarrow.parquet.ParquetWriter",
                   "pyarrow.dataset.write_dataset", "fastparquet.write"}


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> qualified name, for every absolute import in the module (any scope)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _qualified(node: ast.expr, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _qualified(node.value, aliases)
        return None if base is None else f"{base}.{node.attr}"
    return None


def parquet_writes(path: Path) -> list[tuple[int, str]]:
    """(line, what) for every use of a Parquet writer in the module at ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases = _aliases(tree)
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PARQUET_METHODS:
            hits.append((node.lineno, f".{node.attr}("))
        elif isinstance(node, (ast.Attribute, ast.Name)):
            name = _qualified(node, aliases)
            if name in PARQUET_WRITERS:
                hits.append((node.lineno, name))
    return sorted(hits)


def parquet_writes_outside_results(root: Path = ROOT) -> list[str]:
    return [f"{rel(path, root)}:{line}: {what}" for path in python_files(root)
            if not rel(path, root).startswith("fitter/results/")
            for line, what in parquet_writes(path)]


def test_only_the_results_package_writes_parquet():
    found = parquet_writes_outside_results()
    assert not found, ("only spikefit.results (fitter/results/) writes Parquet; move these writes there:\n"
                       + "\n".join(found))


def test_parquet_check_catches_planted_writers(tmp_path):
    for folder in SOURCES:
        (tmp_path / folder / "results").mkdir(parents=True)
    (tmp_path / "fitter" / "results" / "ok.py").write_text("import pyarrow.parquet as pq\npq.write_table(t, p)\n")
    (tmp_path / "fitter" / "planted.py").write_text(
        "import pyarrow.parquet as pq\nimport pyarrow\nfrom pyarrow import dataset as ds\n"
        "from pyarrow.parquet import ParquetWriter as W\n"
        "def f(df, t):\n"
        "    df.to_parquet('x')\n"
        "    pq.write_table(t, 'x')\n"
        "    pyarrow.parquet.write_to_dataset(t, 'x')\n"
        "    ds.write_dataset(t, 'x')\n"
        "    W('x', t.schema)\n"
        "    store.write_table(t)  # someone's own method: not a Parquet writer\n")
    assert parquet_writes_outside_results(tmp_path) == [
        "fitter/planted.py:6: .to_parquet(", "fitter/planted.py:7: pyarrow.parquet.write_table",
        "fitter/planted.py:8: pyarrow.parquet.write_to_dataset", "fitter/planted.py:9: pyarrow.dataset.write_dataset",
        "fitter/planted.py:10: pyarrow.parquet.ParquetWriter"]


# -- parsing a job spec stays light -------------------------------------------------------------

HEAVY = ("optuna", "ray", "pandas")

#: Loads a job and prints which of HEAVY got imported, each with the innermost spikefit frame
#: (file:line) that was running when it was first imported.
_LOAD_JOB = """
import json, sys, traceback
HEAVY = {heavy!r}
SOURCES = {sources!r}
first = {{}}
class Spy:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in HEAVY and top not in first:
            frames = [f for f in traceback.extract_stack() if f.filename.startswith(SOURCES)]
            first[top] = f"{{frames[-1].filename}}:{{frames[-1].lineno}}" if frames else "?"
        return None
sys.meta_path.insert(0, Spy())
from spikefit.spec import load_job
load_job(sys.argv[1])
print(json.dumps({{m: first.get(m, "?") for m in HEAVY if m in sys.modules}}))
"""


def heavy_imports_of_load_job(job: Path, *, pythonpath: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    sources = [str(ROOT / folder) + os.sep for folder in SOURCES]
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
        sources.append(str(pythonpath) + os.sep)
    code = _LOAD_JOB.format(heavy=HEAVY, sources=tuple(sources))
    run = subprocess.run([sys.executable, "-c", code, str(job)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"load_job({job}) failed:\n{run.stdout}{run.stderr}"
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_parsing_a_job_spec_imports_neither_optuna_ray_nor_pandas():
    loaded = heavy_imports_of_load_job(ROOT / "jobs" / "quickstart.toml")
    assert not loaded, f"load_job imported {loaded} (module: first imported from)"


def test_spec_check_catches_a_planted_import(tmp_path):
    dest = stage_sources(tmp_path)
    jobspec = dest / "spikefit" / "spec" / "jobspec.py"
    jobspec.write_text(jobspec.read_text() + "\nimport pandas  # planted\n")
    loaded = heavy_imports_of_load_job(ROOT / "jobs" / "quickstart.toml", pythonpath=dest)
    assert list(loaded) == ["pandas"] and loaded["pandas"].startswith(str(jobspec)), loaded


# -- module size, __all__, lazy re-exports --------------------------------------------------

def oversized(root: Path = ROOT) -> list[str]:
    sizes = ((path, len(path.read_text().splitlines())) for path in python_files(root))
    return [f"{rel(path, root)}: {n} lines" for path, n in sizes if n > MAX_LINES]


def test_modules_stay_under_400_lines():
    found = oversized()
    assert not found, f"split these modules (one responsibility each, at most {MAX_LINES} lines):\n" + "\n".join(found)


def public_packages(root: Path = ROOT) -> list[Path]:
    """The ``__init__.py`` of every package with no private (``_``) component in its name."""
    return [p for p in python_files(root) if p.name == "__init__.py"
            and not any(part.startswith("_") for part in p.relative_to(root).parent.parts)]


def _defines_all(tree: ast.Module) -> bool:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            if any(isinstance(n, ast.Name) and n.id == "__all__" for n in names):
                return True
    return False


def packages_without_all(root: Path = ROOT) -> list[str]:
    return [rel(p, root) for p in public_packages(root) if not _defines_all(ast.parse(p.read_text()))]


def test_public_packages_define_all():
    found = packages_without_all()
    assert not found, "define __all__ in these package __init__ modules:\n" + "\n".join(found)


def test_all_check_catches_a_package_without_it(tmp_path):
    for sub, text in (("a", "__all__ = ['x']\n"), ("b", "__all__, __getattr__, __dir__ = lazy_exports(...)\n"),
                      ("c", "'''no __all__'''\n"), ("_private", "")):
        (tmp_path / "fitter" / sub).mkdir(parents=True)
        (tmp_path / "fitter" / sub / "__init__.py").write_text(text)
    (tmp_path / "models").mkdir()
    assert packages_without_all(tmp_path) == ["fitter/c/__init__.py"]


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The file of a spikefit module in the repository (fitter/ or models/), if any."""
    for folder, package in sorted(SOURCES.items(), key=lambda item: -len(item[1])):
        if module == package or module.startswith(package + "."):
            base = root.joinpath(folder, *module[len(package):].split(".")[1:])
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
            return None
    return None


def package_of(init: Path, root: Path = ROOT) -> str:
    """fitter/data/__init__.py -> spikefit.data; models/__init__.py -> spikefit.models."""
    parts = init.relative_to(root).parent.parts
    return ".".join([SOURCES[parts[0]], *parts[1:]])


def lazy_tables(path: Path, root: Path = ROOT) -> dict[str, tuple[str, ...]]:
    """The ``lazy_exports(__name__, {module: names})`` table of a package ``__init__``, absolute."""
    package = package_of(path, root)
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports"
                and len(node.args) == 2 and isinstance(node.args[1], ast.Dict)):
            table = ast.literal_eval(node.args[1])
            return {(package + m if m.startswith(".") else m): tuple(names) for m, names in table.items()}
    return {}


def top_level_names(path: Path, root: Path = ROOT) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for n in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if isinstance(n, ast.Name):
                        names.add(n.id)
    if path.name == "__init__.py":
        for exported in lazy_tables(path, root).values():
            names.update(exported)
    return names


def lazy_export_problems(root: Path = ROOT) -> list[str]:
    """Each lazy table names modules that exist and define the names, and a subpackage re-exports
    only its own modules: lint-imports cannot see imports by name, so this keeps the tables from
    reaching across the layers (the root package spikefit re-exports from all of them)."""
    problems = []
    for init in public_packages(root):
        package = package_of(init, root)
        for module, names in lazy_tables(init, root).items():
            if package != "spikefit" and not module.startswith(package + "."):
                problems.append(f"{rel(init, root)}: re-exports {module}, outside {package}")
            target = module_file(module, root)
            if target is None:
                problems.append(f"{rel(init, root)}: module {module} does not exist")
                continue
            defined = top_level_names(target, root)
            problems += [f"{rel(init, root)}: {module} defines no {name!r}" for name in names if name not in defined]
    return problems


def test_lazy_re_exports_point_at_defined_names():
    found = lazy_export_problems()
    assert not found, "fix these lazy re-exports:\n" + "\n".join(found)


def test_lazy_export_check_catches_stale_and_cross_layer_entries(tmp_path):
    files = {
        "fitter/__init__.py": "__all__, __getattr__, __dir__ = lazy_exports(__name__, "
                              "{'spikefit.data.a': ('f', 'gone')})\n",
        "fitter/data/__init__.py": "__all__, __getattr__, __dir__ = lazy_exports(__name__, "
                                   "{'.a': ('f',), 'spikefit.search.b': ('g',), '.missing': ('h',)})\n",
        "fitter/data/a.py": "def f(): pass\n",
        "fitter/search/__init__.py": "__all__ = []\n",
        "fitter/search/b.py": "g = 1\n",
        "models/__init__.py": "__all__ = []\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    assert lazy_export_problems(tmp_path) == [
        "fitter/__init__.py: spikefit.data.a defines no 'gone'",
        "fitter/data/__init__.py: re-exports spikefit.search.b, outside spikefit.data",
        "fitter/data/__init__.py: module spikefit.data.missing does not exist"]


# -- tests mirror modules ---------------------------------------------------------------------

#: Modules without a mirror test file, each with the test file that does cover it. Keep this list
#: short and true: a module no test exercises does not belong here; write its test instead.
#: (Package ``__init__`` modules and private ``_x.py`` modules need no mirror: they are tested
#: through the public modules that use them.)
TESTED_ELSEWHERE = {
    # the four model families are checked, model by model, against brainpy.state
    "models/integrate.py": "tests/models/test_models.py",
    "models/exponential.py": "tests/models/test_models.py",
    "models/quadratic.py": "tests/models/test_models.py",
    "models/gif.py": "tests/models/test_models.py",
    # the distances are checked against elephant and PySpike beside the other metrics
    "fitter/scoring/metrics/distances.py": "tests/scoring/metrics/test_metrics.py",
    # npz, CSV and the Parquet sweep table (read, and written by results) share one test file
    "fitter/data/readers/csv.py": "tests/data/readers/test_tables.py",
    "fitter/data/readers/npz.py": "tests/data/readers/test_tables.py",
    "fitter/data/readers/parquet.py": "tests/data/readers/test_tables.py",
    "fitter/results/sweep_table.py": "tests/data/readers/test_tables.py",
    # every CLI test calls spikefit.cli.main.main; exit status 2 on bad input: test_inspect
    "fitter/cli/main.py": "tests/cli/commands/test_inspect.py",
    # these commands are driven through main() in the tests of what they run
    "fitter/cli/commands/report.py": "tests/results/test_report.py",
    "fitter/cli/commands/cluster.py": "tests/execution/test_submit.py",
    # the ask/simulate/tell loop and the in-process pool run in every real fit of these tests
    "fitter/execution/local.py": "tests/execution/test_finish.py",
    # the Arrow table builders are private to the store and tested through it
    "fitter/results/tables.py": "tests/results/test_store.py",
    # spike-step helpers (searchsorted over padded rows) beside the coincidence factor
    "fitter/scoring/metrics/spikes.py": "tests/scoring/metrics/test_coincidence.py",
    # sampler names (job-spec validation) and sampler building: through the study
    "fitter/search/samplers.py": "tests/search/test_study.py",
    # the job spec's sections and its one-line errors: through parsing whole job files
    "fitter/spec/search.py": "tests/spec/test_jobspec.py",
    "fitter/spec/messages.py": "tests/spec/test_jobspec.py",
    # models.parquet is written and read back by the model-choice run
    "fitter/results/choice.py": "tests/execution/test_choice.py",
    "fitter/search/sampler_factory.py": "tests/search/test_study.py",
    # typical parameters drive the evaluator tests and the demo's 13 models
    "fitter/spec/defaults.py": "tests/execution/test_evaluator.py",
    # the models' unit table, registry and errors: against brainpy.state and the unit tests
    "models/registry.py": "tests/models/test_models.py",
    "models/units.py": "tests/models/test_models.py",
}


def mirror_test(module: Path, root: Path = ROOT) -> Path:
    """fitter/<pkg>/<mod>.py -> tests/<pkg>/test_<mod>.py; models/<mod>.py -> tests/models/test_<mod>.py."""
    parts = module.relative_to(root).parts
    packages = parts[1:-1] if parts[0] == "fitter" else ("models", *parts[1:-1])
    return root.joinpath("tests", *packages, f"test_{module.stem}.py")


def untested_modules(root: Path = ROOT, allowed: dict[str, str] = TESTED_ELSEWHERE) -> list[str]:
    problems = []
    for module in python_files(root):
        if module.name == "__init__.py" or module.name.startswith("_"):
            continue
        name, expected = rel(module, root), mirror_test(module, root)
        if name in allowed:
            if expected.exists():
                problems.append(f"{name}: has {rel(expected, root)} now; drop it from TESTED_ELSEWHERE")
            elif not (root / allowed[name]).exists():
                problems.append(f"{name}: TESTED_ELSEWHERE names {allowed[name]}, which does not exist")
        elif not expected.exists():
            problems.append(f"{name}: no {rel(expected, root)}")
    return problems


def test_every_module_has_its_mirror_test():
    found = untested_modules()
    assert not found, "tests mirror modules (or say in TESTED_ELSEWHERE which test covers one):\n" + "\n".join(found)


def test_mirror_check_catches_a_module_without_tests(tmp_path):
    for path, text in (("fitter/data/ok.py", ""), ("tests/data/test_ok.py", ""), ("fitter/data/missing.py", ""),
                       ("fitter/data/_private.py", ""), ("models/gif.py", ""), ("tests/models/test_models.py", ""),
                       ("models/stale.py", ""), ("tests/models/test_stale.py", "")):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    allowed = {"models/gif.py": "tests/models/test_models.py", "models/stale.py": "tests/models/test_models.py"}
    assert untested_modules(tmp_path, allowed) == [
        "fitter/data/missing.py: no tests/data/test_missing.py",
        "models/stale.py: has tests/models/test_stale.py now; drop it from TESTED_ELSEWHERE"]
