"""The services of one app: built once at start-up, handed to handlers typed, by dependency injection.

A feature's lifespan builds its service and `add`s it; `create_app` declares one app-level dependency per
service (`provide`), so a handler that names the parameter (`auth: AuthService`) gets the instance. The providers
are sync and return the prebuilt object: no thread hop, no per-request construction, nothing read off `app.state`.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from litestar import Litestar
from litestar.di import Provide

T = TypeVar("T")


class Services:
    def __init__(self) -> None:
        self._built: dict[type, object] = {}

    @staticmethod
    def of(app: Litestar) -> Services:
        """The app's container (for lifespans, which get the app; handlers get services injected)."""
        services: Services = app.state.services
        return services

    def add(self, service: object, kind: type | None = None) -> None:
        self._built[kind or type(service)] = service

    def get(self, kind: type[T]) -> T:
        try:
            return cast("T", self._built[kind])
        except KeyError:
            raise RuntimeError(f"{kind.__name__} is not built yet: is its lifespan registered?") from None

    def provide(self, kind: type[Any]) -> Provide:
        built = self._built

        def provider() -> Any:
            return built[kind]

        return Provide(provider, sync_to_thread=False)
