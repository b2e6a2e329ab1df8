"""The OAuth mode: this server as the authorization server of its own MCP endpoint, so that
clients that connect by URL (Claude's custom connectors) can use it. The person hands over
their Descript token once, on the connect page; clients only ever hold this server's tokens.

Built on the SDK's authorization support: `auth_settings` configures its routes (metadata,
registration, authorize, token, revoke) and its bearer checks; the provider, the connect page,
and the routes that stand in front of the SDK's for an open server (`endpoints.py`) are this
package's.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.routes import build_metadata, cors_middleware
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from starlette.routing import Route

from descript_mcp.history.budgets import BudgetStore
from descript_mcp.history.grant_store import GrantStore
from descript_mcp.server.oauth.client_documents import ClientDocuments
from descript_mcp.server.oauth.provider import DescriptAuthProvider
from descript_mcp.server.oauth.vault import Vault
from descript_mcp.settings import Settings

MCP_PATH = "/mcp"


def auth_settings(settings: Settings) -> AuthSettings:
    issuer = settings.issuer_url()
    # Validated from text, so the issuer keeps its exact form (no trailing slash): RFC 8414
    # compares issuers as strings.
    return AuthSettings.model_validate(
        {
            "issuer_url": issuer,
            "resource_server_url": issuer + MCP_PATH,
            "validate_token_resource": True,
            "client_registration_options": ClientRegistrationOptions(enabled=True),
            "revocation_options": RevocationOptions(enabled=True),
        }
    )


def vault_for(settings: Settings) -> Vault:
    """The key from the settings, or from the key file (made on first start): blocking."""
    if settings.secret_key is not None:
        return Vault.from_key_text(settings.secret_key.get_secret_value())
    return Vault.from_key_file(settings.key_file())


def build_provider(
    settings: Settings,
    store: Callable[[], GrantStore],
    budgets: Callable[[], BudgetStore],
    *,
    documents: ClientDocuments | None = None,
) -> DescriptAuthProvider:
    issuer = settings.issuer_url()
    return DescriptAuthProvider(
        issuer=issuer,
        resource=issuer + MCP_PATH,
        vault=vault_for(settings),
        documents=documents or ClientDocuments(),
        store=store,
        budgets=budgets,
    )


def metadata_route(settings: Settings) -> Route:
    """The SDK's authorization server metadata, which also says that client ids may be
    metadata document URLs, that public clients (`none`) authenticate by their id alone, and
    that authorization responses name their issuer (RFC 9207); the SDK's own route does not."""
    auth = auth_settings(settings)
    metadata = build_metadata(
        auth.issuer_url,
        None,
        auth.client_registration_options or ClientRegistrationOptions(),
        auth.revocation_options or RevocationOptions(),
    )
    metadata.client_id_metadata_document_supported = True
    methods = ["client_secret_post", "client_secret_basic", "none"]
    metadata.token_endpoint_auth_methods_supported = methods
    metadata.revocation_endpoint_auth_methods_supported = methods
    metadata.authorization_response_iss_parameter_supported = True
    return Route(
        "/.well-known/oauth-authorization-server",
        endpoint=cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"]),
        methods=["GET", "OPTIONS"],
    )
