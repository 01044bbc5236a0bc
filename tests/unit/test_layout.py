"""The package's folders say where code runs; these tests keep the import arrows one-way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "wrapper" / "otel_run"
MAX_LINES = 360


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def _imports_of(path: Path) -> set[str]:
    """Every ``otel_run`` module a file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("otel_run"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "otel_run":
                found.update(f"otel_run.{alias.name}" for alias in node.names)
            elif node.module.startswith("otel_run."):
                found.add(node.module)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("path", _modules("config"), ids=lambda p: p.name)
def test_config_imports_nothing_else_of_ours(path: Path) -> None:
    """``config/`` reads the environment and depends on no other part of otel-run."""
    assert {m for m in _imports_of(path) if _layer(m) != "config"} == set()


@pytest.mark.parametrize("path", _modules("config"), ids=lambda p: p.name)
def test_config_does_not_import_the_sdk(path: Path) -> None:
    """``config/`` never imports OpenTelemetry: doctor must work when the SDK is broken."""
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert [n for n in names if n.startswith("opentelemetry")] == []


@pytest.mark.parametrize("path", _modules("runtime"), ids=lambda p: p.name)
def test_runtime_imports_only_config_and_itself(path: Path) -> None:
    """``runtime/`` runs inside the app: it never reaches for doctor, receiver or the CLI."""
    allowed = {"config", "runtime", "__version__"}
    assert {m for m in _imports_of(path) if _layer(m) not in allowed} == set()


@pytest.mark.parametrize("path", _modules("runtime/servers"), ids=lambda p: p.name)
def test_a_server_adapter_knows_no_other_server(path: Path) -> None:
    """Each adapter under ``runtime/servers/`` stands alone."""
    assert {m for m in _imports_of(path) if m.startswith("otel_run.runtime.servers")} == set()


def test_the_launch_path_imports_no_opentelemetry() -> None:
    """``cli`` and ``launch`` import no OpenTelemetry module at module level."""
    for name in ("cli.py", "launch.py", "__main__.py", "__init__.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        modules = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
        modules += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
        assert [m for m in modules if m.startswith(("opentelemetry", "otel_run.runtime"))] == [], name


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_too_long_to_read(path: Path) -> None:
    """A module is about one thing: none runs past about 350 lines."""
    assert len(path.read_text().splitlines()) <= MAX_LINES


@pytest.mark.parametrize("path", _modules("status"), ids=lambda p: p.name)
def test_status_reads_files_without_the_runtime_or_the_sdk(path: Path) -> None:
    """``status/`` (``otel-run status``) stays light: only ``config/``, never the runtime or the SDK."""
    assert {m for m in _imports_of(path) if _layer(m) not in {"config", "status"}} == set()
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert [n for n in names if n.startswith("opentelemetry")] == []
