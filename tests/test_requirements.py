"""The runtime virtualenv Pulumi runs (venv/, requirements.txt) holds what the program, the plugin and the policy
pack import, and no test, lint or emulator package (those are in requirements-dev.txt, venv-dev/)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
RUNTIME_CODE = ("__main__.py", "components", "provider", "serving", "policy")
"""What Pulumi runs from venv/: the program, the servingops plugin (provider/, serving/) and the policy pack."""
DEV_ONLY = {"pytest", "pytest-xdist", "execnet", "ruff", "fastapi", "uvicorn", "starlette", "httpx"}
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(path: Path) -> dict[str, str]:
    """The distributions a requirements file pins (without its `-r` includes): name -> version."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            found[canonical(name)] = version
    return found


def closure(names: set[str]) -> set[str]:
    """The distributions `names` install, with their dependencies (extras left out), as installed here."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" in requirement.partition(";")[2]:
                continue
            todo.append(canonical(REQUIREMENT.match(requirement)[1]))
    return seen


def modules_imported(paths: list[Path]) -> set[str]:
    """The top-level modules these files import anywhere (lazy imports in functions too), absolute only."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def runtime_imports() -> set[str]:
    """The third-party modules the runtime code imports, following the project's own packages it imports."""
    local = {path.name for path in PROJECT_DIR.iterdir() if (path / "__init__.py").exists()}
    todo, done, third_party = [PROJECT_DIR / name for name in RUNTIME_CODE], set(), set()
    while todo:
        entry = todo.pop()
        if entry in done:
            continue
        done.add(entry)
        files = sorted(entry.rglob("*.py")) if entry.is_dir() else [entry]
        for name in modules_imported(files):
            if name in local:
                todo.append(PROJECT_DIR / name)
            elif name not in sys.stdlib_module_names and name != "__main__":
                third_party.add(name)
    return third_party


def test_the_runtime_requirements_hold_no_test_lint_or_emulator_package():
    assert sorted(set(pinned(PROJECT_DIR / "requirements.txt")) & DEV_ONLY) == []


def test_the_dev_requirements_install_the_runtime_set_and_the_tools():
    dev = PROJECT_DIR / "requirements-dev.txt"
    assert "-r requirements.txt" in dev.read_text().splitlines()
    assert {"pytest", "ruff", "fastapi", "uvicorn"} <= set(pinned(dev))


def test_every_import_of_the_program_plugin_and_policy_pack_is_installed_by_the_runtime_requirements():
    installed = closure(set(pinned(PROJECT_DIR / "requirements.txt")))
    providers = importlib.metadata.packages_distributions()
    missing = {
        module: providers.get(module)
        for module in runtime_imports()
        if not {canonical(name) for name in providers.get(module, [])} & installed
    }
    assert missing == {}


def test_the_runtime_code_imports_no_dev_only_package():
    providers = importlib.metadata.packages_distributions()
    imported = {canonical(name) for module in runtime_imports() for name in providers.get(module, [])}
    assert sorted(imported & DEV_ONLY) == []


RUNTIME_VENV = PROJECT_DIR / "venv"


@pytest.mark.skipif(
    RUNTIME_VENV.is_symlink() or not (RUNTIME_VENV / ".installed").exists(),
    reason="venv/ is not this checkout's own runtime virtualenv (made by make setup)",
)
def test_the_runtime_virtualenv_made_by_make_setup_cannot_import_the_test_tools():
    probe = "import importlib.util as u; print([m for m in ('pytest', 'fastapi', 'uvicorn', 'ruff') if u.find_spec(m)])"
    done = subprocess.run(
        [str(RUNTIME_VENV / "bin" / "python"), "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
