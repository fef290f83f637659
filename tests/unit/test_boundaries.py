"""Components talk only through NATS: edge, dispatcher, runners and janitor import contracts,
never each other; contracts imports only the standard library and msgspec."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("edge", "dispatcher", "runners", "janitor")
PROJECT = (*COMPONENTS, "contracts", "coderunner")


def imported_top_levels(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (root / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(root)))
    return found


def forbidden_imports(component: str, root: Path = ROOT) -> dict[str, set[str]]:
    imports = imported_top_levels(component, root)
    return {name: files for name, files in imports.items()
            if name in PROJECT and name not in (component, "contracts")}


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_imports_no_other_component(component: str) -> None:
    assert forbidden_imports(component) == {}


def test_contracts_is_a_leaf() -> None:
    imports = imported_top_levels("contracts")
    allowed = set(sys.stdlib_module_names) | {"msgspec", "contracts", "__future__"}
    assert {name for name in imports if name not in allowed} == set()


def test_the_boundary_check_sees_a_violation(tmp_path: Path) -> None:
    package = tmp_path / "edge"
    package.mkdir()
    (package / "bad.py").write_text("import contracts\nfrom runners.pool import WarmPool\n")
    assert forbidden_imports("edge", tmp_path) == {"runners": {"edge/bad.py"}}


def test_agent_uses_only_the_standard_library_and_its_own_modules() -> None:
    """Every image runs the agent on its Debian python3 alone. The kernel bridge is the one
    exception: it runs only in the python image, which has Jupyter (jupyter_client, zmq)."""
    imports = imported_top_levels("runners/agent")
    own = {path.stem for path in (ROOT / "runners" / "agent").glob("*.py")}
    foreign = {n: files for n, files in imports.items()
               if n not in sys.stdlib_module_names and n not in own and n != "__future__"}
    assert foreign == {"jupyter_client": {"runners/agent/kernel_bridge.py"},
                       "zmq": {"runners/agent/kernel_bridge.py"}}
