from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress

import pytest

from contracts.api import MAX_CALLBACK_URL, ExecutionResult
from contracts.messages import WebhookState
from edge.webhooks import Attempt, Policy, Refused, WebhookDeliverer, backoff_s, pinned, sign

STRICT = Policy(allow_private=False, allow_link_local=False)
PRIVATE_OK = Policy(allow_private=True, allow_link_local=False)
LINK_LOCAL_OK = Policy(allow_private=False, allow_link_local=True)


# --- sign -------------------------------------------------------------------------------------


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body() -> None:
    body = b'{"id":"e1","status":"completed"}'
    expected = hmac.new(b"hook-secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("hook-secret", 1_700_000_000, body) == f"t=1700000000,v1={expected}"


def test_another_secret_or_time_gives_another_signature() -> None:
    body = b"{}"
    first = sign("a", 1, body)
    assert sign("b", 1, body) != first
    assert sign("a", 2, body).split(",v1=")[1] != first.split(",v1=")[1]


# --- backoff ----------------------------------------------------------------------------------


def test_backoff_doubles_from_one_second_and_is_capped_at_a_minute() -> None:
    assert [backoff_s(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff_s(50) == 60


# --- Policy.url_problem -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/hook", "file:///etc/passwd", "gopher://example.com", "javascript:x"],
)
def test_only_http_and_https_callbacks_are_allowed(url: str) -> None:
    assert "http or https" in (STRICT.url_problem(url) or "")


@pytest.mark.parametrize(
    "url", ["https://user:pw@example.com/hook", "https://user@example.com/hook"]
)
def test_a_callback_with_credentials_is_refused(url: str) -> None:
    assert "credentials" in (STRICT.url_problem(url) or "")


def test_a_callback_longer_than_the_limit_is_refused() -> None:
    base = "https://example.com/"
    assert STRICT.url_problem(base + "a" * (MAX_CALLBACK_URL - len(base))) is None
    too_long = base + "a" * (MAX_CALLBACK_URL - len(base) + 1)
    assert "longer than" in (STRICT.url_problem(too_long) or "")


@pytest.mark.parametrize("url", ["https:///hook", "http://:8080/hook"])
def test_a_callback_without_a_host_is_refused(url: str) -> None:
    assert "no host" in (STRICT.url_problem(url) or "")


@pytest.mark.parametrize(
    "url", ["https://example.com:99999/", "https://example.com:port/", "http://[::1/"]
)
def test_a_callback_with_a_bad_port_or_address_is_refused(url: str) -> None:
    assert "not a valid URL" in (STRICT.url_problem(url) or "")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.169.254./",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./",
        "http://[fe80::1]/hook",
        "http://169.254.1.1/hook",
        "http://100.100.100.200/",
    ],
)
def test_link_local_and_metadata_callbacks_are_refused(url: str) -> None:
    problem = STRICT.url_problem(url)
    assert problem is not None
    assert PRIVATE_OK.url_problem(url) is not None  # allowing private is not enough


def test_a_metadata_host_name_is_allowed_when_link_local_is() -> None:
    assert LINK_LOCAL_OK.url_problem("http://metadata.google.internal/") is None


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://metadata.google.internal/", "http://[fe80::1]/"]
)
def test_link_local_callbacks_are_allowed_when_link_local_and_private_are(url: str) -> None:
    assert Policy(allow_private=True, allow_link_local=True).url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://localhost:8080/hook",
        "http://api.localhost/hook",
        "http://[::1]/hook",
    ],
)
def test_private_callbacks_are_refused_unless_allowed(url: str) -> None:
    assert "private" in (STRICT.url_problem(url) or "")
    assert PRIVATE_OK.url_problem(url) is None


@pytest.mark.parametrize("url", ["http://0.0.0.0/", "http://224.0.0.1/", "http://[ff02::1]/"])
def test_unspecified_and_multicast_addresses_are_refused_even_when_private_is_allowed(
    url: str,
) -> None:
    assert "cannot receive" in (Policy(True, True).url_problem(url) or "")


@pytest.mark.parametrize(
    "url",
    ["https://93.184.216.34/hook", "http://93.184.216.34:8080/x?y=1", "https://example.com/hook"],
)
def test_public_callbacks_are_allowed(url: str) -> None:
    assert STRICT.url_problem(url) is None


# --- WebhookDeliverer -------------------------------------------------------------------------


async def test_an_execution_without_a_callback_is_acked_and_nothing_is_saved() -> None:
    looked_up: list[str] = []
    saved: list[tuple[str, WebhookState]] = []
    acked: list[bool] = []
    retried: list[float] = []

    async def lookup(execution_id: str) -> tuple[str, ExecutionResult] | None:
        looked_up.append(execution_id)
        return None

    async def save(execution_id: str, state: WebhookState) -> None:
        saved.append((execution_id, state))

    async def ack() -> None:
        acked.append(True)

    async def retry(delay: float) -> None:
        retried.append(delay)

    deliverer = WebhookDeliverer("secret", STRICT, max_attempts=3, timeout_s=1.0,
                                 lookup=lookup, save=save)
    try:
        await deliverer.deliver(Attempt("e1", 1, ack, retry))
    finally:
        await deliverer.close()
    assert looked_up == ["e1"]
    assert acked == [True]
    assert saved == []
    assert retried == []


@pytest.mark.parametrize("url", [
    "http://[::ffff:169.254.169.254]/", "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
])
def test_a_metadata_address_written_as_ipv6_is_refused_even_when_private_is_allowed(
    url: str,
) -> None:
    assert "link-local" in (PRIVATE_OK.url_problem(url) or "")


def test_carrier_grade_nat_addresses_are_not_public() -> None:
    assert "private" in (STRICT.url_problem("http://100.64.0.1/hook") or "")


def test_link_local_alone_allows_the_metadata_address() -> None:
    assert LINK_LOCAL_OK.url_problem("http://169.254.169.254/latest") is None
    assert "private" in (LINK_LOCAL_OK.url_problem("http://10.0.0.1/") or "")


# --- IP literals in disguise (issue 17, reproduction 3) ---------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433:8000/x",  # decimal 127.0.0.1
        "http://0x7f.1:8000/x",  # hex, short form
        "http://0x7f000001/x",
        "http://0177.0.0.1/x",  # octal
        "http://127.1/x",  # short form
        "http://[::ffff:7f00:1]:8000/x",  # IPv4-mapped
        "http://[::7f00:1]/x",  # IPv4-compatible
        "http://[64:ff9b::7f00:1]/x",  # NAT64
        "http://[2002:7f00:1::]/x",  # 6to4
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x",  # Teredo
    ],
)
def test_loopback_in_any_literal_form_is_refused_when_private_is_not_allowed(url: str) -> None:
    assert "127.0.0.1" in (STRICT.url_problem(url) or "") or "Teredo" in (
        STRICT.url_problem(url) or ""), STRICT.url_problem(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://2852039166/latest",  # decimal 169.254.169.254
        "http://0xa9fea9fe/latest",
        "http://0251.0376.0251.0376/latest",
        "http://169.254.43518/latest",
        "http://[::a9fe:a9fe]/latest",  # IPv4-compatible
        "http://[64:ff9b::a9fe:a9fe]/latest",
        "http://[2002:a9fe:a9fe::1]/latest",
        # Teredo whose (obfuscated) client is 169.254.169.254
        "http://[2001:0:4136:e378:8000:63bf:5601:5601]/latest",
    ],
)
def test_the_metadata_address_in_any_literal_form_is_refused_even_when_private_is_allowed(
    url: str,
) -> None:
    assert "link-local or a metadata service" in (PRIVATE_OK.url_problem(url) or ""), url


@pytest.mark.parametrize("url", ["http://1.2.3.4.5/x", "http://0x100000000/x", "http://256.1.1.1/x",
                                 "http://08.0.0.1/x"])
def test_a_host_that_ends_in_a_number_but_is_no_address_is_refused(url: str) -> None:
    assert "not a valid IPv4 address" in (PRIVATE_OK.url_problem(url) or ""), url


@pytest.mark.parametrize("url", ["https://example.com/x", "https://cafe.be/x",
                                 "https://0x7f.example/x", "https://8.8.8.8/x"])
def test_names_and_public_addresses_still_pass(url: str) -> None:
    assert STRICT.url_problem(url) is None


# --- the connection goes to the address that was checked ---------------------------------------


def test_a_callback_is_pinned_to_the_checked_address_keeping_its_host_and_tls_name() -> None:
    address = ipaddress.ip_address("93.184.216.34")
    assert pinned("https://hooks.example.com:8443/in?x=1", address) == (
        "https://93.184.216.34:8443/in?x=1", {"Host": "hooks.example.com:8443"},
        {"sni_hostname": "hooks.example.com"})
    assert pinned("http://hooks.example.com/in", ipaddress.ip_address("2001:db8::1")) == (
        "http://[2001:db8::1]/in", {"Host": "hooks.example.com"}, {})
    assert pinned("https://bücher.example/in", address) == (
        "https://93.184.216.34/in", {"Host": "xn--bcher-kva.example"},
        {"sni_hostname": "xn--bcher-kva.example"})
    assert pinned("http://[2001:db8::1]:81/in", ipaddress.ip_address("2001:db8::1"))[1] == {
        "Host": "[2001:db8::1]:81"}


async def test_a_name_that_resolves_to_a_refused_address_is_refused_when_sent() -> None:
    with pytest.raises(Refused, match="private"):
        await LINK_LOCAL_OK.checked_address("http://localhost.:9/hook")


async def test_a_callback_reaches_the_checked_address_with_the_names_host_header() -> None:
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    saved: list[WebhookState] = []

    async def lookup(execution_id: str) -> tuple[str, ExecutionResult]:
        return f"http://localhost:{port}/hook", ExecutionResult("e1", "completed", "python", 0.0)

    async def save(execution_id: str, state: WebhookState) -> None:
        saved.append(state)

    async def done(*_: object) -> None:
        pass

    deliverer = WebhookDeliverer("secret", PRIVATE_OK, 1, 2.0, lookup, save)
    try:
        await deliverer.deliver(Attempt("e1", 1, done, done))
    finally:
        await deliverer.close()
        server.close()
    assert [s.status for s in saved] == ["delivered"], saved
    assert f"\r\nhost: localhost:{port}\r\n".encode() in received[0].lower()


async def test_the_connection_goes_to_the_checked_address_not_to_a_new_resolution() -> None:
    """DNS rebinding: the name resolves to an allowed address for the check, to another (here:
    to nothing at all) when the HTTP client would resolve it again; the POST must go to the
    address that was checked."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    class CheckedOnce(Policy):
        async def checked_address(self, url: str) -> ipaddress.IPv4Address:
            return ipaddress.IPv4Address("127.0.0.1")

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    saved: list[WebhookState] = []

    async def lookup(execution_id: str) -> tuple[str, ExecutionResult]:
        url = f"http://rebound.invalid:{port}/hook"
        return url, ExecutionResult("e1", "completed", "python", 0.0)

    async def save(execution_id: str, state: WebhookState) -> None:
        saved.append(state)

    async def done(*_: object) -> None:
        pass

    deliverer = WebhookDeliverer("secret", CheckedOnce(True, False), 1, 2.0, lookup, save)
    try:
        await deliverer.deliver(Attempt("e1", 1, done, done))
    finally:
        await deliverer.close()
        server.close()
    assert [s.status for s in saved] == ["delivered"], saved
    assert f"\r\nhost: rebound.invalid:{port}\r\n".encode() in received[0].lower()
