"""Which names the web UI answers to (DNS rebinding), and which pages may change anything (Origin).

A page of another site can make the browser send requests to the UI under the site's own name
(DNS rebinding: the name is made to resolve to the UI's address): the `Host` header then carries
that foreign name, so only the names the server was started with are answered. A page of
another site can also post a form to the UI under its real name: state-changing requests whose
`Origin` (or `Sec-Fetch-Site`) says they come from another origin are refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable

__all__ = [
    "LOOPBACK_HOSTS",
    "allowed_hosts_for",
    "is_wildcard",
    "machine_names",
    "normalize_host",
    "same_origin",
    "split_host",
]

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SIOCGIFADDR = 0x8915  # linux/sockios.h: an interface's IPv4 address


def normalize_host(name: str) -> str:
    """A host name as compared: lower case, no brackets around an IPv6 address, no final dot."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name.rstrip(".") if name not in (".", "") else name


def split_host(value: str) -> tuple[str, int | None] | None:
    """The name and port of a `Host` value (`name`, `name:port`, `[v6]`, `[v6]:port`), the name
    normalized; None if it is malformed."""
    value = value.strip()
    if not value or any(c.isspace() or c in "/\\@?#" for c in value):
        return None
    port: str | None = None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
        try:
            ipaddress.IPv6Address(name.split("%", 1)[0])
        except ValueError:
            return None
    else:
        if value.count(":") > 1:  # an IPv6 address must be bracketed
            return None
        name, sep, p = value.partition(":")
        if sep:
            port = p
    if not name:
        return None
    if port is not None and not (port.isdigit() and len(port) <= 5 and int(port) < 65536):
        return None
    return normalize_host(name), int(port) if port is not None else None


def same_origin(origin: str, host: str, scheme: str) -> bool:
    """Whether an `Origin` header names the host and port the request was sent to (`host`: its
    Host header, `scheme`: the request's). "null" (an opaque origin) is never the same."""
    o_scheme, sep, authority = origin.strip().partition("://")
    o_scheme = o_scheme.lower()
    if not sep or o_scheme not in _DEFAULT_PORTS:
        return False
    o = split_host(authority)
    h = split_host(host)
    if o is None or h is None:
        return False
    o_port = o[1] if o[1] is not None else _DEFAULT_PORTS[o_scheme]
    h_port = h[1] if h[1] is not None else _DEFAULT_PORTS.get(scheme, 80)
    return o[0] == h[0] and o_port == h_port


def is_wildcard(address: str) -> bool:
    """0.0.0.0, ::, or an empty bind address (every interface)."""
    name = normalize_host(address)
    if not name:
        return True
    try:
        return ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


def _ipv4_addresses() -> list[str]:
    out: list[str] = []
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return out
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name in names:
            with contextlib.suppress(OSError):
                req = struct.pack("256s", name.encode()[:15])
                out.append(socket.inet_ntoa(fcntl.ioctl(s.fileno(), _SIOCGIFADDR, req)[20:24]))
    return out


def _ipv6_addresses() -> list[str]:
    out: list[str] = []
    with contextlib.suppress(OSError), open("/proc/net/if_inet6", encoding="ascii") as fh:
        for line in fh:
            field = line.split()[0] if line.strip() else ""
            if len(field) == 32:
                with contextlib.suppress(ValueError):
                    out.append(str(ipaddress.IPv6Address(bytes.fromhex(field))))
    return out


def machine_names() -> list[str]:
    """This machine's host name (with and without its domain) and the addresses of its
    interfaces (Linux; elsewhere the host name only). No DNS query is made."""
    names: list[str] = []
    with contextlib.suppress(OSError):
        host = socket.gethostname()
        if host:
            names += [host, host.split(".", 1)[0]]
    if os.path.exists("/proc/net"):
        names += _ipv4_addresses() + _ipv6_addresses()
    return names


def allowed_hosts_for(bind: str, extra: Iterable[str] = ()) -> list[str]:
    """The names a server bound to `bind` answers to: the loopback names, the bound address,
    the machine's names and addresses when bound to a wildcard, and `extra` (--allowed-host)."""
    names = [*LOOPBACK_HOSTS, bind]
    if is_wildcard(bind):
        names += machine_names()
    names += list(extra)
    out: list[str] = []
    for name in names:
        n = normalize_host(name)
        if n and not is_wildcard(n) and n not in out:
            out.append(n)
    return out
