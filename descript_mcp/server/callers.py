"""Who is calling: the Descript token of this request, its client, and its history owner.

Over HTTP each request may bring its own `Authorization: Bearer <Descript token>`, so one server
serves several users; in the OAuth mode it brings an access token that stands for one. On stdio
the server's own token is the only one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mcp.server.mcpserver.exceptions import ToolError

from descript_mcp.history.ledger import HistoryLedger
from descript_mcp.history.records import owner_of
from descript_mcp.history.submissions import SubmissionStore

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient
    from descript_mcp.client.ledger import SubmissionLedger
    from descript_mcp.server.oauth.provider import DescriptAuthProvider


class ClientFactory(Protocol):
    """Makes the API client of a token, writing its submissions to `ledger`."""

    def __call__(self, token: str, *, ledger: SubmissionLedger) -> DescriptClient: ...


@dataclass(frozen=True)
class Caller:
    owner: str
    client: DescriptClient
    over_http: bool = False


class ClientPool:
    """One client per token, least recently used closed first. Tokens live only in memory.
    Every client's submissions go to the job history, seen by all that share it."""

    def __init__(
        self, factory: ClientFactory, submissions: SubmissionStore, size: int = 256
    ) -> None:
        self._factory = factory
        self._submissions = submissions
        self._size = size
        self._clients: OrderedDict[str, DescriptClient] = OrderedDict()

    async def get(self, token: str) -> DescriptClient:
        client = self._clients.pop(token, None) or self._factory(
            token, ledger=HistoryLedger(self._submissions, owner_of(token))
        )
        self._clients[token] = client
        while len(self._clients) > self._size:
            _, oldest = self._clients.popitem(last=False)
            await oldest.aclose()
        return client

    def by_owner(self) -> dict[str, DescriptClient]:
        """The clients held, by their token's owner (a replica takes over jobs of these)."""
        return {owner_of(token): client for token, client in self._clients.items()}

    async def drop(self, owner: str) -> bool:
        """Close the client of this owner's token, if one is held: it sends nothing more."""
        held = [token for token in self._clients if owner_of(token) == owner]
        for token in held:
            await self._clients.pop(token).aclose()
        return bool(held)

    async def aclose(self) -> None:
        while self._clients:
            await self._clients.popitem()[1].aclose()


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def choose_token(
    headers_present: bool, authorization: str | None, server_token: str | None, fallback: bool
) -> str:
    """The request's own token over HTTP; the server's token on stdio, or over HTTP if allowed."""
    own = bearer_token(authorization)
    if own:
        return own
    if server_token and (not headers_present or fallback):
        return server_token
    if headers_present:
        raise ToolError(
            "No Descript API token. Send your token from Descript (Settings → API Tokens) "
            "in the request header: Authorization: Bearer <token>."
        )
    raise ToolError(
        "No Descript API token is configured. Create one in Descript under Settings → API "
        "Tokens and set DESCRIPT_API_KEY in this server's environment (for Claude Desktop: the "
        '"env" of the server in claude_desktop_config.json), then restart the server.'
    )


async def resolve(
    pool: ClientPool,
    headers_present: bool,
    authorization: str | None,
    server_token: str | None,
    fallback: bool,
) -> Caller:
    token = choose_token(headers_present, authorization, server_token, fallback)
    return Caller(owner=owner_of(token), client=await pool.get(token), over_http=headers_present)


async def resolve_grant(pool: ClientPool, oauth: DescriptAuthProvider, user: object) -> Caller:
    """In the OAuth mode: the Descript token of the request's access token, as the SDK's
    bearer check read it (`user`, the request's authenticated user)."""
    from descript_mcp.server.oauth.provider import GrantAccess  # loaded in the OAuth mode

    access = getattr(user, "access_token", None)
    token = oauth.descript_token(access) if isinstance(access, GrantAccess) else None
    if token is None:
        raise ToolError(
            "This connection to Descript has ended (revoked or expired). Reconnect the "
            "descript-mcp connector in your app to sign in again."
        )
    return Caller(owner=owner_of(token), client=await pool.get(token), over_http=True)
