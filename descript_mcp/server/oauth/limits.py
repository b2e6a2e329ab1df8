"""What a stranger may ask of the OAuth mode without an account, and how often: sign-ins
(/authorize), registrations (/register) and Descript tokens tried on the connect page. Each is
budgeted per address (IPv6 by its /64, what one machine is usually given), per client where
there is one, and for the whole server; the budgets live in the history (`history/budgets.py`),
so replicas share them. A person's own sign-in counts its own tries, so their mistakes lock
out nobody else. SECURITY.md lists these figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from descript_mcp.history.budgets import Budget, Spend
from descript_mcp.server.http.addresses import address_key

MINUTE, HOUR, DAY = 60.0, 3_600.0, 86_400.0


# /authorize: every request, per address and in all; those that open a sign-in, per client.
SIGN_INS_PER_ADDRESS = Budget("sign-in/address", 60, 10 * MINUTE)
SIGN_INS_PER_CLIENT = Budget("sign-in/client", 2_000, 10 * MINUTE)
SIGN_INS = Budget("sign-in/all", 10_000, 10 * MINUTE)
# /register.
REGISTRATIONS_PER_ADDRESS = Budget("register/address", 20, HOUR)
REGISTRATIONS = Budget("register/all", 1_000, HOUR)
# Descript tokens tried on the connect page, each before Descript is asked.
CHECKS_PER_SIGN_IN = Budget("check/sign-in", 5, 10 * MINUTE)
CHECKS_PER_ADDRESS = Budget("check/address", 30, 15 * MINUTE)
CHECKS_PER_CLIENT = Budget("check/client", 300, 15 * MINUTE)
CHECKS = Budget("check/all", 1_000, 15 * MINUTE)


@dataclass(frozen=True)
class Limits:
    sign_ins_per_address: Budget = SIGN_INS_PER_ADDRESS
    sign_ins_per_client: Budget = SIGN_INS_PER_CLIENT
    sign_ins: Budget = SIGN_INS
    # Sign-ins kept at once (each lasts 10 minutes).
    open_sign_ins: int = 10_000
    registrations_per_address: Budget = REGISTRATIONS_PER_ADDRESS
    registrations: Budget = REGISTRATIONS
    # Clients that never completed a sign-in: kept a day, and at most this many.
    unused_clients: int = 2_000
    unused_client_kept: float = DAY
    checks_per_sign_in: Budget = CHECKS_PER_SIGN_IN
    checks_per_address: Budget = CHECKS_PER_ADDRESS
    checks_per_client: Budget = CHECKS_PER_CLIENT
    checks: Budget = CHECKS

    def authorize_request(self, address: str) -> tuple[Spend, ...]:
        return (
            Spend(self.sign_ins_per_address, address_key(address)),
            Spend(self.sign_ins, "all"),
        )

    def sign_in(self, client_id: str) -> tuple[Spend, ...]:
        return (Spend(self.sign_ins_per_client, client_id),)

    def registration(self, address: str) -> tuple[Spend, ...]:
        return (
            Spend(self.registrations_per_address, address_key(address)),
            Spend(self.registrations, "all"),
        )

    def token_check(self, request_id: str, address: str, client_id: str) -> tuple[Spend, ...]:
        return (
            Spend(self.checks_per_sign_in, request_id),
            Spend(self.checks_per_address, address_key(address)),
            Spend(self.checks_per_client, client_id),
            Spend(self.checks, "all"),
        )


def address_of(request: Request) -> str:
    """The client's address (see server/http/addresses.py for how a proxy's is read past)."""
    return request.client.host if request.client else "unknown"
