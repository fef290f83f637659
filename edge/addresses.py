"""IP addresses as a URL may spell them, and the IPv4 addresses hidden inside IPv6 ones.

A host that ends in a number is an IPv4 address to a browser, to glibc's resolver and so to an
HTTP client: ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and ``127.1`` are all 127.0.0.1
(the WHATWG URL standard's IPv4 parser, which ``ipv4_literal`` follows). An IPv6 address may
carry an IPv4 one that the network delivers to: IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible
``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16`` and Teredo ``2001::/32`` (its
client, stored inverted, and its server).
"""

from __future__ import annotations

import ipaddress
import re

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NUMBER = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)


class NotAnAddress(ValueError):
    """The host ends in a number but is no valid IPv4 address."""


def ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address ``host`` spells in any of its forms; None when it is a name. Raises
    ``NotAnAddress`` for a host ending in a number that is no address (``1.2.3.4.5``,
    ``256.1.1.1``, ``08.1``): a browser refuses those too."""
    parts = host.rstrip(".").split(".")
    if not _NUMBER.fullmatch(parts[-1]):
        return None
    try:
        numbers = [_part(part) for part in parts]
    except ValueError:
        raise NotAnAddress(f"{host!r} is not a valid IPv4 address") from None
    last_room = 256 ** (5 - len(numbers))
    if (len(numbers) > 4 or any(n > 255 for n in numbers[:-1])
            or numbers[-1] >= last_room):
        raise NotAnAddress(f"{host!r} is not a valid IPv4 address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _part(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)
    return int(part, 10)


def host_address(host: str) -> IpAddress | None:
    """The address a URL's host names literally (IPv6 without brackets, as ``urlsplit`` gives
    it), or None for a name. Raises ``NotAnAddress``."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise NotAnAddress(f"{host!r} is not a valid IPv6 address") from None
    return ipv4_literal(host)


def embedded(ip: IpAddress) -> list[IpAddress]:
    """The IPv4 addresses an IPv6 one stands for (empty for an IPv4 one or a plain IPv6
    one): a metadata address must not pass as ``::ffff:169.254.169.254``."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [client, server]
    return []
