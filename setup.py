"""Packaging that pyproject.toml cannot express: the top-level alembic/ folder ships inside the wheel.

It is installed as the package `reachimpact_alembic` (a folder without __init__.py, so it can never shadow the
Alembic library when the checkout is on sys.path). A wheel copies it into site-packages; an editable install maps
the name to the checkout's own folder. service/db/migrations.py finds it by that name in both cases.
"""

from setuptools import find_namespace_packages, setup

# Namespace discovery, as pyproject.toml's default: a feature folder without __init__.py still ships.
setup(
    packages=[*find_namespace_packages(include=["service*", "etl*"]), "reachimpact_alembic"],
    package_dir={"reachimpact_alembic": "alembic"},
)
