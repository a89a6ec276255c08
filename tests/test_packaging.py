"""The installable package: what ``pip install spikefit-<version>.whl`` gives a user, no checkout.

The ``wheel`` tests (marked ``wheel``, ~70 s together) take the steps of deploy/Dockerfile: the
files its ``COPY`` lines name are copied into a temporary folder and deploy/install_and_check.sh
(the script the Dockerfile runs) builds the wheel there, installs it into a fresh virtual
environment outside the repository and checks ``spikefit --help`` and ``spikefit inspect`` of the
shipped example. The tests then run ``spikefit demo`` and a small ``spikefit run`` with that
environment from another temporary folder.

Installing every dependency from the index into the fresh environment would take minutes, so it
gets the wheel alone (``--no-deps``) and a ``.pth`` file naming this environment's site-packages:
the dependencies are importable, but the ``.pth`` files inside that folder (among them the
editable install of this checkout) are not run, so ``import spikefit`` finds the wheel.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

import pandas as pd
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"fitter": "spikefit", "models": "spikefit/models"}  # repository folder -> installed path
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
wheel = pytest.mark.wheel


def _source_files() -> list[Path]:
    """Every file of fitter/ and models/ that an installation needs (no caches)."""
    return sorted(p for top in SOURCES for p in (REPO / top).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def _installed_name(path: Path) -> str:
    """``fitter/cli/main.py`` -> ``spikefit/cli/main.py``; ``models/gif.py`` -> ``spikefit/models/gif.py``."""
    rel = path.relative_to(REPO)
    return "/".join([SOURCES[rel.parts[0]], *rel.parts[1:]])


def test_every_package_folder_is_listed_in_pyproject():
    tool = PYPROJECT["tool"]["setuptools"]
    assert tool["package-dir"] == {"spikefit": "fitter", "spikefit.models": "models"}
    folders = {_installed_name(p).replace("/", ".") for p in _source_files() if p.name == "__init__.py"}
    folders = {name.removesuffix(".__init__.py") for name in folders}
    # data-only folders (example recordings) are listed too, so that setuptools ships them
    data = {_installed_name(p.parent).replace("/", ".") for p in _source_files()
            if not (p.parent / "__init__.py").is_file()}
    assert set(tool["packages"]) == folders | data, (
        "[tool.setuptools] packages must list every package folder of fitter/ and models/: "
        f"missing {sorted((folders | data) - set(tool['packages']))}, "
        f"not a folder {sorted(set(tool['packages']) - (folders | data))}")
    assert all(name in tool["package-data"] for name in data)


def _imported_top_modules(folder: Path) -> dict[str, str]:
    """Top-level module -> one file importing it, for absolute imports in ``folder``."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    return found


def test_every_imported_distribution_is_a_declared_dependency():
    imported = {**_imported_top_modules(REPO / "fitter"), **_imported_top_modules(REPO / "models")}
    third_party = {m: f for m, f in imported.items()
                   if m not in sys.stdlib_module_names and m not in {"spikefit", "__future__"}}
    dists = packages_distributions()
    unknown = sorted(m for m in third_party if m not in dists)
    assert not unknown, f"imported but not installed here: {unknown}"
    needed = {canonicalize_name(d): m for m, f in third_party.items() for d in dists[m]}
    declared = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    missing = {d: (m, third_party[m]) for d, m in needed.items() if d not in declared}
    assert not missing, f"[project].dependencies lacks (distribution: (module, imported in)): {missing}"
    unused = declared - set(needed)
    assert not unused, f"[project].dependencies names distributions no code imports: {sorted(unused)}"


def test_install_script_refuses_what_it_cannot_install(tmp_path):
    (tmp_path / "empty").mkdir()
    for given, expected in ((tmp_path / "empty", "got no pyproject.toml"), (REPO / "README.md", ".whl")):
        proc = subprocess.run(["bash", str(REPO / "deploy" / "install_and_check.sh"), str(given)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1
        assert str(given) in proc.stderr and expected in proc.stderr, proc.stderr


# --- the wheel, installed in a fresh virtual environment ------------------------------------------

@dataclass(frozen=True)
class Installed:
    python: Path   # the fresh environment's interpreter
    scripts: Path  # its bin/ (console scripts)
    site: Path     # its site-packages
    wheel: Path
    example: Path  # the shipped example, as the installed package finds it
    env: dict      # environment for its commands
    elsewhere: Path  # a folder outside the repository to run them from


def _docker_steps(dockerfile: Path) -> tuple[list[tuple[list[str], str]], list[str]]:
    """The ``COPY`` instructions before the install script runs, and that script's command."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())  # join continued lines
    copies = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "COPY":
            copies.append((words[1:-1], words[-1]))
        elif words and words[0] == "RUN" and "install_and_check.sh" in line:
            command = next(c for c in line.split("&&") if "install_and_check.sh" in c).split()
            start = next(i for i, w in enumerate(command) if w.endswith("install_and_check.sh"))
            return copies, command[start:]
    raise AssertionError(f"{dockerfile}: expected a RUN of install_and_check.sh, found none")


def _copy_like_docker(copies: list[tuple[list[str], str]], root: Path) -> None:
    """Apply ``COPY src... dest`` (absolute dest) under ``root``, as ``docker build`` does."""
    for sources, dest in copies:
        target = root / dest.lstrip("/")
        for src in sources:
            path = REPO / src
            assert path.exists(), f"deploy/Dockerfile: COPY {src}: not in the repository"
            if path.is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True)
            else:
                to = target / path.name if dest.endswith("/") else target
                to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, to)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """The wheel built and installed by deploy/install_and_check.sh, as in deploy/Dockerfile."""
    tmp = tmp_path_factory.mktemp("wheel")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    paths = json.loads(subprocess.check_output(
        [str(python), "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"], text=True))
    site, scripts = Path(paths["purelib"]), Path(paths["scripts"])
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site / "_spikefit_test_dependencies.pth").write_text("".join(f"{p}\n" for p in ours))

    copies, command = _docker_steps(REPO / "deploy" / "Dockerfile")
    image = tmp / "image"
    _copy_like_docker(copies, image)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{scripts}{os.pathsep}{env.get('PATH', '')}"
    # the image's absolute paths (/src/...) live under `image`
    proc = subprocess.run(
        ["bash", *(str(image / word.lstrip("/")) for word in command)],
        env={**env, "PYTHON": str(python), "PIP_INSTALL_ARGS": "--no-deps", "WHEEL_DIR": str(tmp / "dist")},
        cwd=elsewhere, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"install_and_check.sh failed:\n{proc.stdout}\n{proc.stderr}"
    (wheel_file,) = (tmp / "dist").glob("spikefit-*.whl")
    example = subprocess.check_output(
        [str(python), "-c", "from spikefit.examples import example_path; print(example_path())"],
        env=env, cwd=elsewhere, text=True).strip()
    return Installed(python, scripts, site, wheel_file, Path(example), env, elsewhere)


def _spikefit(inst: Installed, *args: str, cwd: Path | None = None, timeout: int = 300):
    return subprocess.run([str(inst.scripts / "spikefit"), *args], env=inst.env, cwd=cwd or inst.elsewhere,
                          capture_output=True, text=True, timeout=timeout)


@wheel
def test_wheel_holds_every_file_of_fitter_and_models_and_nothing_else(installed):
    import spikefit

    with zipfile.ZipFile(installed.wheel) as zf:
        names = set(zf.namelist())
    dist_info = f"spikefit-{spikefit.__version__}.dist-info"
    assert {n.split("/")[0] for n in names} == {"spikefit", dist_info}  # no top-level fitter/, models/
    missing = sorted(_installed_name(p) for p in _source_files() if _installed_name(p) not in names)
    assert not missing, f"the wheel lacks {missing}"
    assert any(n.startswith("spikefit/examples/bbp_l5pc_A2_IDrest/") and n.endswith(".ibw") for n in names)
    extra = sorted(n for n in names - {_installed_name(p) for p in _source_files()}
                   if not n.startswith(dist_info))
    assert not extra, f"the wheel holds files that are not in fitter/ or models/: {extra}"


#: run by the fresh environment: where spikefit comes from, and pip check's rule over the closure
#: of spikefit's requirements (each installed, in its version range, with its extras' requirements)
_WHERE_AND_REQUIREMENTS = r"""
import json, importlib.metadata as md
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import spikefit, spikefit.models
problems, seen = [], set()
def need(text, extra=""):
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": extra}):
        return
    try:
        version = md.version(req.name)
    except md.PackageNotFoundError:
        problems.append(f"{text}: not installed")
        return
    if not req.specifier.contains(version, prereleases=True):
        problems.append(f"{text}: found {version}")
    key = (canonicalize_name(req.name), frozenset(req.extras))
    if key not in seen:
        seen.add(key)
        for sub in md.requires(req.name) or []:
            for e in ["", *sorted(req.extras)]:
                need(sub, e)
dist = md.distribution("spikefit")
for r in dist.requires or []:
    need(r)
print(json.dumps({"problems": problems, "checked": len(seen), "spikefit": spikefit.__file__,
                  "models": spikefit.models.__file__, "dist": str(dist.locate_file("")),
                  "version": dist.version, "entry": [e.value for e in dist.entry_points if e.name == "spikefit"]}))
"""


@wheel
def test_wheel_is_what_the_fresh_venv_imports_and_its_requirements_hold(installed):
    proc = subprocess.run([str(installed.python), "-c", _WHERE_AND_REQUIREMENTS], env=installed.env, cwd=installed.elsewhere,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    import spikefit

    assert Path(got["spikefit"]) == installed.site / "spikefit" / "__init__.py"  # not the checkout
    assert Path(got["models"]) == installed.site / "spikefit" / "models" / "__init__.py"
    assert Path(got["dist"]) == installed.site and got["version"] == spikefit.__version__
    assert installed.example.is_relative_to(installed.site)
    assert got["entry"] == ["spikefit.cli.main:main"]
    assert got["checked"] > len(PYPROJECT["project"]["dependencies"])  # the closure, not just the list
    assert got["problems"] == [], "the wheel's requirements are not satisfied: " + "; ".join(got["problems"])


@wheel
def test_wheel_demo_simulates_every_model_outside_the_checkout(installed):
    from spikefit import models

    proc = _spikefit(installed, "demo", "--json")
    assert proc.returncode == 0, proc.stderr
    demo = json.loads(proc.stdout)
    assert demo["sweep"] == "332"  # the default sweep of the shipped example
    assert [r["model"] for r in demo["rows"]] == list(models.MODEL_NAMES)
    assert all(r["spikes"] > 0 and not r["diverged"] for r in demo["rows"]), demo["rows"]


@wheel
def test_wheel_runs_a_small_fit_of_the_installed_example(installed, tmp_path):
    job = tmp_path / "tiny.toml"
    job.write_text(f"""
name = "tiny"
seed = 1
output = "results/tiny"

[data]
path = {json.dumps(str(installed.example))}
format = "ibw"
ljp_mV = 14.0
train = {{ repeats = [0] }}

[model]
name = "LIF"
fixed = {{ V_rest = "-70 mV" }}

[params]
R       = {{ low = "20 MOhm", high = "300 MOhm", log = true }}
tau     = {{ low = "5 ms",    high = "60 ms",    log = true }}
V_th    = {{ low = "-60 mV",  high = "-35 mV" }}
V_reset = {{ low = "-75 mV",  high = "-40 mV" }}

[search]
sampler = "cmaes_batch"
trials = 64
batch_size = 32

[resources]
workers = 1
cpus_per_worker = 1
""")
    proc = _spikefit(installed, "run", job.name, "--no-progress", cwd=tmp_path, timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "results" / "tiny"
    trials = pd.read_parquet(out / "trials")
    assert sorted(trials["trial"]) == list(range(64))
    best = pd.read_parquet(out / "best.parquet")
    assert len(best) == 1 and best["model"].iloc[0] == "LIF"
    done = trials[trials["state"] == "COMPLETE"]
    assert best["trial"].iloc[0] == done.loc[done["loss"].idxmin(), "trial"]
    assert 0.02 <= best["R"].iloc[0] <= 0.3 and 5 <= best["tau"].iloc[0] <= 60  # GOhm, ms
