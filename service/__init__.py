"""ReachImpact backend: a Litestar service on PostgreSQL."""

from importlib.metadata import version

# The installed distribution's version: the OpenAPI document and `reachimpact --version` show this one.
__version__ = version("reachimpact")
