"""The shape of the code, checked statically with `ast` (nothing is imported, so nothing runs).

- No import cycles between the packages of `service` (each feature folder, and each top-level module such as
  service/cli.py, is one node) or between `service` and `etl`. Every import counts, including those inside
  functions and under TYPE_CHECKING: a function-level import hides a cycle from Python, not from the design.
  Imports by name at run time (JOB_MODULES' `importlib.import_module`) are a registration list, not an edge.
- `service` imports `etl` only from its command line (service/cli.py).

Each rule also runs on a small synthetic tree that breaks it, so a check that could never fail would show.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("service", "etl")
CLI_ENTRY = "service.cli"


def modules(root: Path) -> Iterator[tuple[str, Path]]:
    """(dotted name, file) of every module of the checked packages under `root`."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imported(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every module `module` imports, wherever the statement is. `from a import b` is a.b when that is a module."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in known else base


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the modules of the checked packages it imports."""
    found = dict(modules(root))
    known = set(found)
    graph: dict[str, set[str]] = {}
    for module, path in found.items():
        graph[module] = {target for target in imported(module, path, known) if target.split(".")[0] in PACKAGES}
    return graph


def unit_of(module: str) -> str:
    """The node a module belongs to: `etl`, or service's sub-package or top-level module (`service.cli`)."""
    parts = module.split(".")
    if parts[0] == "etl" or len(parts) == 1:
        return parts[0]
    return f"service.{parts[1]}"


def unit_graph(root: Path) -> dict[str, dict[str, set[str]]]:
    """unit -> unit it imports -> the "module -> module" imports that make the edge (for the failure message)."""
    units: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module, targets in import_graph(root).items():
        source = unit_of(module)
        for target in targets:
            if (unit := unit_of(target)) != source:
                units[source][unit].add(f"{module} -> {target}")
    return units


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {t for targets in graph.values() for t in targets}):
        if node not in index:
            visit(node)
    return found


def describe(graph: dict[str, dict[str, set[str]]], component: list[str]) -> str:
    edges = [
        f"  {source} -> {target}: {', '.join(sorted(graph[source][target]))}"
        for source in component
        for target in component
        if target in graph.get(source, {})
    ]
    return "import cycle between " + ", ".join(component) + "\n" + "\n".join(edges)


def cycle_report(root: Path) -> list[str]:
    graph = unit_graph(root)
    return [describe(graph, component) for component in cycles(graph)]


def etl_importers(root: Path) -> set[str]:
    """Modules of `service` that import `etl`, other than the command line."""
    return {
        module
        for module, targets in import_graph(root).items()
        if module.startswith("service") and module != CLI_ENTRY and any(t.split(".")[0] == "etl" for t in targets)
    }


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for parent in path.relative_to(root).parents:
            if str(parent) != "." and not (root / parent / "__init__.py").exists():
                (root / parent / "__init__.py").write_text("")
    return root


# -- the real code ------------------------------------------------------------------------------------------------
def test_no_import_cycle_between_feature_packages_or_between_service_and_etl():
    assert cycle_report(ROOT) == []


def test_service_imports_etl_only_from_its_command_line():
    assert etl_importers(ROOT) == set()


def test_the_graph_sees_the_real_imports():
    """Guards the checker itself: edges that exist today must be found (else an empty report proves nothing)."""
    graph = unit_graph(ROOT)
    assert "etl" in graph[CLI_ENTRY]  # a module-level import
    assert "service.cli_settings" in graph["etl"]  # function-level imports in etl/cli.py
    assert "service.contacts" in graph["service.calls"]


# -- the checks fail on bad code ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "files",
    [
        pytest.param(
            {
                "service/alpha/routes.py": "from service.beta.service import thing\n",
                "service/beta/service.py": "def thing():\n    from service.alpha import routes\n",
            },
            id="two-features-one-import-inside-a-function",
        ),
        pytest.param(
            {
                "service/cli.py": "from etl.cli import etl\n",
                "etl/cli.py": "def load():\n    from service.cli import load_settings\n",
            },
            id="service-cli-and-etl-cli",
        ),
        pytest.param(
            {
                "service/alpha/service.py": "from service.beta import repository\n",
                "service/beta/repository.py": "from ..gamma import jobs\n",
                "service/gamma/jobs.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from service.alpha.service import Service\n",
            },
            id="three-features-relative-and-type-checking",
        ),
    ],
)
def test_a_cycle_is_caught(tmp_path, files):
    report = cycle_report(write_tree(tmp_path, files))
    assert len(report) == 1, report
    assert report[0].startswith("import cycle between ")


def test_acyclic_imports_pass(tmp_path):
    tree = write_tree(
        tmp_path,
        {
            "service/alpha/routes.py": "from service.beta.service import thing\nfrom service import errors\n",
            "service/beta/service.py": "from service.errors import NotFound\n",
            "service/errors.py": "",
            "service/cli.py": "from etl.cli import etl\n",
            "etl/cli.py": "def load():\n    from service.cli_settings import load_settings\n",
            "service/cli_settings.py": "from service.errors import NotFound\n",
        },
    )
    assert cycle_report(tree) == []
    assert etl_importers(tree) == set()


def test_an_etl_import_outside_the_command_line_is_caught(tmp_path):
    tree = write_tree(tmp_path, {"service/alpha/service.py": "import etl.load\n", "etl/load.py": ""})
    assert etl_importers(tree) == {"service.alpha.service"}


# -- the pool rule (service/db/pool.py) ---------------------------------------------------------------------------
# Pooled connections are released without asyncpg's reset query, so they must never carry session state: no
# LISTEN (add_listener or the statement), no session-level SET (SET LOCAL and SET TRANSACTION end with the
# transaction), no session advisory lock (pg_advisory_xact_lock ends with it). Only modules that own a dedicated
# connection may, and each of them is named here with the connection it uses.
POOL_RULE_ALLOWED = {
    "service.realtime.listener": {"add_listener"},  # the process's one LISTEN connection, asyncpg.connect()
    "etl.load.loader": {"session SET", "session advisory lock"},  # the import's own connection (etl/cli.py)
    "etl.load.session": {"session SET"},  # the same, and its staging worker's own (etl/load/staging.py)
}
# A statement (at the start of the text or after a `;`), not the SET of an UPDATE nor prose.
SESSION_SET = re.compile(
    r"(?:^|;)\s*SET\s+(?:SESSION\s+)?(?!LOCAL\b|TRANSACTION\b)(?:TIME\s+ZONE\b|[\w.]+\s*(?:=|\bTO\b))",
    re.IGNORECASE,
)
LISTEN_STATEMENT = re.compile(r'(?:^|;)\s*LISTEN\s+"?\w+"?\s*(?:;|$)', re.IGNORECASE)
SESSION_ADVISORY_LOCK = re.compile(r"pg_(?:try_)?advisory_lock(?:_shared)?\s*\(", re.IGNORECASE)


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose about the rule is not a breach of it."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def sql_texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal; an f-string is one text with `{}` for each hole."""
    skip = docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(part) for part in node.values)
            text = "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
            yield node.lineno, str(text)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def pool_rule_breaches(root: Path) -> list[tuple[str, int, str]]:
    """(module, line, what) for every use of session state outside the module allowed to use it."""
    breaches = []
    for module, path in modules(root):
        tree = ast.parse(path.read_text(), str(path))
        uses = [
            (node.lineno, "add_listener")
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "add_listener"
        ]
        for line, text in sql_texts(tree):
            if SESSION_SET.search(text):
                uses.append((line, "session SET"))
            if LISTEN_STATEMENT.search(text):
                uses.append((line, "LISTEN"))
            if SESSION_ADVISORY_LOCK.search(text):
                uses.append((line, "session advisory lock"))
        allowed = POOL_RULE_ALLOWED.get(module, set())
        breaches += [(module, line, what) for line, what in uses if what not in allowed]
    return breaches


def pool_rule_uses(root: Path, module: str) -> set[str]:
    """What an allow-listed module really uses (an entry it no longer needs must go)."""
    saved = dict(POOL_RULE_ALLOWED)
    POOL_RULE_ALLOWED.pop(module, None)
    try:
        return {what for found, _, what in pool_rule_breaches(root) if found == module}
    finally:
        POOL_RULE_ALLOWED.clear()
        POOL_RULE_ALLOWED.update(saved)


def test_no_session_state_on_pooled_connections():
    assert pool_rule_breaches(ROOT) == []


@pytest.mark.parametrize("module", sorted(POOL_RULE_ALLOWED))
def test_every_allowed_use_is_real(module):
    assert pool_rule_uses(ROOT, module) == POOL_RULE_ALLOWED[module]


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("async def f(c, h):\n    await c.add_listener('ri_events', h)\n", "add_listener"),
        ("async def f(c):\n    await c.execute('LISTEN ri_events')\n", "LISTEN"),
        ("Q = 'SET search_path = other'\n", "session SET"),
        ("Q = 'set statement_timeout to 5000'\n", "session SET"),
        ("Q = 'SET SESSION work_mem = 1'\n", "session SET"),
        ("Q = \"SET TIME ZONE 'UTC'\"\n", "session SET"),
        ("Q = 'SELECT 1; SET role = admin'\n", "session SET"),
        ("def f(ms):\n    return f'SET statement_timeout = {ms}'\n", "session SET"),
        ("Q = 'SELECT pg_advisory_lock($1)'\n", "session advisory lock"),
        ("Q = 'SELECT pg_try_advisory_lock($1)'\n", "session advisory lock"),
        ("Q = 'SELECT pg_advisory_lock_shared(1)'\n", "session advisory lock"),
    ],
)
def test_a_pool_rule_breach_is_caught(tmp_path, source, what):
    tree = write_tree(tmp_path, {"service/alpha/repository.py": source})
    line = source.count("\n")  # each case's breach is on its last line
    assert pool_rule_breaches(tree) == [("service.alpha.repository", line, what)]


def test_transaction_scoped_state_and_prose_pass(tmp_path):
    source = '''"""Docstrings may explain why pg_advisory_lock( and SET search_path = x are not used here."""
ERROR = "LISTEN connection closed; reconnecting"
LOCK = "SELECT pg_advisory_xact_lock($1)"
LOCAL = "SET LOCAL statement_timeout = 5000"
ISOLATION = "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"
UPDATE = "UPDATE users SET credits = 0 WHERE id = $1"
MULTILINE = """
UPDATE users
SET credits = 0
"""
def f(table):
    """Set the value = 3 (prose)."""
    return f"UPDATE {table} SET credits = 0"
'''
    assert pool_rule_breaches(write_tree(tmp_path, {"service/alpha/repository.py": source})) == []


def test_only_the_allowed_module_may_listen(tmp_path):
    listens = "async def f(c, h):\n    await c.add_listener('x', h)\n"
    tree = write_tree(tmp_path, {"service/realtime/listener.py": listens, "service/chat/service.py": listens})
    assert pool_rule_breaches(tree) == [("service.chat.service", 2, "add_listener")]


# -- one shape per feature: routes -> service -> repository ---------------------------------------------------------
# Platform packages serve every feature and are not features themselves.
PLATFORM = {"db", "jobs", "mail", "openai", "realtime", "twilio", "web"}
# Every feature has its rules and its SQL; one that serves HTTP also has its wire structs and its start-up wiring
# (runtime.py builds the service once and declares it as a dependency).
FEATURE_FILES = ("service.py", "repository.py")
HTTP_FEATURE_FILES = ("routes.py", "schemas.py", "runtime.py")
# Route modules allowed to skip their service, and feature folders allowed to lack a file: none. Should one ever be
# needed, test_every_layout_exception_is_still_needed makes sure it is dropped again once it is not.
ROUTES_BUILDING_SERVICES: set[str] = set()
MISSING_FILES: dict[str, set[str]] = {}


def features(root: Path) -> list[Path]:
    return sorted(
        path
        for path in (root / "service").iterdir()
        if path.is_dir() and ((path / "__init__.py").exists() or (path / "service.py").exists())
        if path.name not in PLATFORM and not path.name.startswith("_")
    )


def missing_files(root: Path) -> dict[str, set[str]]:
    missing = {}
    for folder in features(root):
        wanted = FEATURE_FILES + (HTTP_FEATURE_FILES if (folder / "routes.py").exists() else ())
        if absent := {name for name in wanted if not (folder / name).exists()}:
            missing[folder.name] = absent
    return missing


def route_breaches(root: Path) -> dict[str, set[str]]:
    """What each route module does that belongs to a service: imports a repository or the pool, touches
    `.pool`, or constructs a `...Service` (per request, instead of having it injected)."""
    graph = import_graph(root)
    breaches: dict[str, set[str]] = defaultdict(set)
    for module, path in modules(root):
        if not module.endswith(".routes"):
            continue
        for target in graph[module]:
            if target.endswith(".repository") or target == "service.db.pool":
                breaches[module].add(f"imports {target}")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "pool":
                breaches[module].add("uses the pool")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("Service"):
                breaches[module].add(f"builds {node.func.id} per request")
    return dict(breaches)


def test_every_feature_folder_has_the_same_files():
    assert missing_files(ROOT) == MISSING_FILES


def test_routes_call_services_that_were_injected_never_repositories():
    assert set(route_breaches(ROOT)) == ROUTES_BUILDING_SERVICES


def test_every_layout_exception_is_still_needed():
    breaches = route_breaches(ROOT)
    assert all(breaches.get(module) for module in ROUTES_BUILDING_SERVICES)
    assert {name: files for name, files in missing_files(ROOT).items() if name in MISSING_FILES} == MISSING_FILES


def test_a_route_that_skips_its_service_is_caught(tmp_path):
    tree = write_tree(
        tmp_path,
        {
            "service/alpha/routes.py": "from service.alpha import repository\n"
            "async def handler(request):\n"
            "    return await repository.get(request.app.state.pool)\n",
            "service/alpha/repository.py": "",
            "service/beta/routes.py": "from service.beta.service import BetaService\n"
            "async def handler(request, state):\n"
            "    return await BetaService(state.db).get()\n",
            "service/beta/service.py": "class BetaService: ...\n",
            "service/gamma/routes.py": "from service.gamma.service import GammaService\n"
            "async def handler(gamma: GammaService):\n"
            "    return await gamma.get()\n",
            "service/gamma/service.py": "",
        },
    )
    assert route_breaches(tree) == {
        "service.alpha.routes": {"imports service.alpha.repository", "uses the pool"},
        "service.beta.routes": {"builds BetaService per request"},
    }


def test_a_feature_folder_missing_a_role_is_caught(tmp_path):
    tree = write_tree(
        tmp_path,
        {
            "service/alpha/routes.py": "",
            "service/alpha/service.py": "",
            "service/alpha/repository.py": "",
            "service/beta/service.py": "",  # no HTTP: routes, schemas and runtime are not needed
            "service/beta/repository.py": "",
            "service/web/lists.py": "",  # platform: not a feature
        },
    )
    assert missing_files(tree) == {"alpha": {"schemas.py", "runtime.py"}}
