"""Where a tenant may send: public hosts only, unless ``ALLOW_PRIVATE_TARGETS`` is on.

Checked when a job is created or updated and again right before every delivery (a name may
resolve elsewhere by then). Redirects are never followed, so a public URL cannot bounce a
delivery onto the service's own network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from apprise import Apprise

from domain.delivery import Channel


class TargetRefused(ValueError):
    """A target the service will not send to; the message is user-facing."""


def is_public_address(address: str) -> bool:
    """Whether an IP address is globally routable (not private, loopback, link-local…)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


async def check_host(host: str, *, allow_private: bool, resolve_required: bool = True) -> None:
    """Refuse ``host`` if it is, or resolves to, a non-public address.

    With ``resolve_required=False`` a name that does not resolve passes (some notification
    services take a topic where a host would be); it is checked again at delivery.
    """
    if allow_private:
        return
    if host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        raise TargetRefused(f"'{host}' is a loopback host")
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        addresses = [host.strip("[]")]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            if resolve_required:
                raise TargetRefused(f"cannot resolve '{host}': {exc}") from None
            return
        addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not is_public_address(address):
            raise TargetRefused(
                f"'{host}' is a private, loopback or reserved address ({address}); such targets "
                "need ALLOW_PRIVATE_TARGETS"
            )


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse plain http and non-public hosts (unless private targets are allowed)."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not allow_private:
        raise TargetRefused(
            "only https:// URLs are allowed (plain http needs ALLOW_PRIVATE_TARGETS)"
        )
    if not parts.hostname:
        raise TargetRefused("URL has no host")
    await check_host(parts.hostname, allow_private=allow_private)


def _instantiate(channel: Channel) -> Any:
    """The Apprise plugin of the channel, or None when the target is malformed."""
    url = channel.apprise_url
    if "overflow=" not in url:
        url += ("&" if "?" in url else "?") + "overflow=split"
    return Apprise.instantiate(url, suppress_exceptions=True)


async def check_target(channel: Channel, *, allow_private: bool, at_delivery: bool) -> Any:
    """The channel's Apprise plugin; a self-hosted service on a non-public host raises
    TargetRefused."""
    plugin = _instantiate(channel)
    if plugin is None:
        raise TargetRefused(f"malformed target for provider '{channel.scheme}'")
    if "host" in getattr(plugin, "template_tokens", {}) and getattr(plugin, "host", None):
        await check_host(
            str(plugin.host), allow_private=allow_private, resolve_required=at_delivery
        )
    return plugin
