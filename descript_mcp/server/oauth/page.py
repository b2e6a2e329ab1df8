"""The connect page's HTML, and the pages /authorize shows instead of sending a browser to an
app it cannot trust: server-rendered, a little CSS, no script; readable on a phone and in dark
mode. Everything shown that a client or Descript chose is escaped."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse, RedirectResponse, Response

TOKEN_HELP_URL = "https://descript.com/api"

STYLE = """
:root { color-scheme: light dark; --accent: #4f46e5; --muted: #6b7280; --line: #d1d5db; }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; padding: 1.5rem 1rem; }
main { max-width: 28rem; margin: 0 auto; }
h1 { font-size: 1.35rem; margin: 0 0 1rem; }
p { margin: 0 0 1rem; }
.who { border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem;
  margin-bottom: 1rem; }
.who small, .hint { color: var(--muted); }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
input[type=password] { width: 100%; box-sizing: border-box; font: inherit; padding: .6rem;
  border: 1px solid var(--line); border-radius: .4rem; }
.buttons { display: flex; gap: .75rem; margin-top: 1rem; flex-wrap: wrap; }
button { font: inherit; padding: .6rem 1.2rem; border-radius: .4rem; border: 1px solid var(--line);
  background: transparent; color: inherit; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.error { border-left: 4px solid #dc2626; padding: .5rem .75rem; margin-bottom: 1rem; }
.drive { font-size: 1.1rem; font-weight: 600; }
"""


@dataclass(frozen=True)
class Asker:
    """Who asks: the client's name (its own word, unless its id is its URL) and where the
    browser goes back to."""

    client_name: str
    client_host: str | None  # the host of a metadata-document client id: verified by fetching
    redirect_host: str


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _asker(asker: Asker) -> str:
    vouched = (
        f"<small>Its identity was checked at {escape(asker.client_host)}.</small>"
        if asker.client_host
        else "<small>The name is the app's own description of itself.</small>"
    )
    return (
        f"<div class=who><strong id=client-name>{escape(asker.client_name)}</strong> "
        f"wants to use your Descript account through this server.<br>{vouched}<br>"
        f"<small>You will be sent back to <strong id=redirect-host>"
        f"{escape(asker.redirect_host)}</strong>.</small></div>"
    )


def token_form(asker: Asker, csrf: str, error: str | None = None) -> str:
    problem = f"<div class=error role=alert id=error>{escape(error)}</div>" if error else ""
    return _document(
        "Connect Descript",
        "<h1>Connect your Descript account</h1>"
        + _asker(asker)
        + problem
        + "<form method=post autocomplete=off>"
        f"<input type=hidden name=csrf value={escape(csrf, quote=True)}>"
        "<label for=token>Descript API token</label>"
        "<input type=password id=token name=token required autocomplete=off spellcheck=false>"
        f"<p class=hint>In Descript, open Settings → API tokens and create one "
        f'(<a href="{TOKEN_HELP_URL}" target=_blank rel=noopener>how</a>). It is checked '
        "with Descript, then stored encrypted on this server and never shown to the app.</p>"
        "<div class=buttons><button class=primary name=action value=check>Continue</button>"
        "<button name=action value=deny formnovalidate>Deny</button></div></form>",
    )


def confirm_form(asker: Asker, csrf: str, drive_name: str | None) -> str:
    drive = escape(drive_name) if drive_name else "(Descript did not name it)"
    return _document(
        "Confirm Descript",
        "<h1>Allow access to this drive?</h1>"
        + _asker(asker)
        + f"<p>The token belongs to the drive <span class=drive id=drive>{drive}</span>.</p>"
        "<p class=hint>The app will be able to import media, edit with Descript's agent, "
        "publish and read projects in this drive, with what your token allows.</p>"
        "<form method=post>"
        f"<input type=hidden name=csrf value={escape(csrf, quote=True)}>"
        "<div class=buttons><button class=primary name=action value=confirm id=confirm>"
        "Allow</button><button name=action value=deny>Deny</button></div></form>",
    )


def notice(title: str, message: str) -> str:
    return _document(title, f"<h1>{escape(title)}</h1><p id=notice>{escape(message)}</p>")


def refusal(title: str, message: str, code: str) -> str:
    """Why an authorization request cannot go on, with its OAuth error code."""
    return _document(
        title,
        f"<h1>{escape(title)}</h1><p id=notice>{escape(message)}</p>"
        f"<p class=hint>Error: <code id=error-code>{escape(code)}</code></p>",
    )


def html(
    body: str,
    status: int,
    redirect_uri: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page that runs no script, cannot be framed, and whose forms post only here (and, once
    answered, redirect to `redirect_uri`'s origin)."""
    targets = "'self'"
    if redirect_uri is not None:
        parts = urlsplit(redirect_uri)
        targets += f" {parts.scheme}://{parts.netloc}" if parts.netloc else f" {parts.scheme}:"
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": f"default-src 'none'; style-src 'unsafe-inline'; "
            f"form-action {targets}; frame-ancestors 'none'; base-uri 'none'",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )


def redirect(url: str, status: int = 303) -> Response:
    return RedirectResponse(url, status_code=status, headers={"Cache-Control": "no-store"})
