"""The client's IP address, for login throttling and the sessions list.

Proxy headers are believed only when TRUSTED_PROXIES says so, otherwise any client could pick its own address
and dodge the per-IP limit:
- `fly`: the service is reachable only through Fly's proxy, which sets `Fly-Client-IP`;
- a comma list of CIDRs: when the direct peer is one of them, `X-Forwarded-For` is read from the right, and the
  first address that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress

from litestar.types import Scope

from service.auth.middleware import header_value
from service.config import ConfigError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
UNKNOWN = "unknown"


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class ClientAddress:
    def __init__(self, trusted_proxies: tuple[str, ...]) -> None:
        self.fly = any(item.lower() == "fly" for item in trusted_proxies)
        try:
            self.networks = [
                ipaddress.ip_network(item, strict=False) for item in trusted_proxies if item.lower() != "fly"
            ]
        except ValueError as exc:
            raise ConfigError(f"TRUSTED_PROXIES: {exc}") from None

    def of(self, scope: Scope) -> str:
        peer = scope.get("client")
        peer_ip = peer[0] if peer else UNKNOWN
        if self.fly:
            address = _address(header_value(scope, b"fly-client-ip") or "")
            if address:
                return str(address)
        if self.networks and self._trusted(_address(peer_ip)):
            return self._from_forwarded_for(header_value(scope, b"x-forwarded-for")) or peer_ip
        return peer_ip

    def _trusted(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def _from_forwarded_for(self, header: str | None) -> str | None:
        client: Address | None = None
        for hop in reversed((header or "").split(",")):
            client = _address(hop)
            if client is None:
                return None  # a garbled hop: believe nothing further left
            if not self._trusted(client):
                return str(client)
        return str(client) if client else None
