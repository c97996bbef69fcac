"""The console's app pages over HTTP: registering shows the secret once, another user's
app is 404 from every form, every POST needs the CSRF token, and revoking an app on the
authorised-apps page refuses its token at once (both databases)."""

from __future__ import annotations

import re

from tests.harness import Gateway
from tests.integration.oauth_kit import (
    CSRF,
    TOKEN_URL,
    approve,
    client,
    csrf_of,
    ledger_matches,
    register,
    signed_in_user,
)

SECRET = re.compile(r'id="client-secret" class="secret" type="text" readonly value="([^"]+)"')


def test_register_in_the_console_shows_the_secret_once(gateway: Gateway) -> None:
    person, _ = signed_in_user(gateway, amount="")
    page = person.get("/console/apps")
    assert page.status_code == 200 and "Register an app" in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    form = {
        "csrf_token": token,
        "name": "Bot",
        "redirect_domains": "bot.example.test",
        "scope": "general_api_access",
    }
    made = person.post("/console/apps/new", data=form)
    assert made.status_code == 200
    secret = SECRET.search(made.text)
    assert secret is not None and len(secret.group(1)) == 32
    listing = person.get("/console/apps")
    assert "Bot" in listing.text and secret.group(1) not in listing.text
    bad = person.post("/console/apps/new", data={**form, "redirect_domains": "not a host!"})
    assert bad.status_code == 400 and "redirect_domains" in bad.text


def test_posts_need_csrf_and_another_users_app_is_404(gateway: Gateway) -> None:
    app = register(gateway)
    other, _ = signed_in_user(gateway, amount="")
    token = csrf_of(other)
    rotate = f"/console/apps/{app.client_id}/rotate"
    assert other.post(rotate, data={"csrf_token": token}).status_code == 404
    assert app.developer.post(rotate, data={}).status_code == 403
    assert other.post("/console/apps/new", data={"name": "x"}).status_code == 403
    revoke = "/console/apps/authorized/999999/revoke"
    assert other.post(revoke, data={"csrf_token": token}).status_code == 404
    assert other.post(revoke, data={}).status_code == 403
    own = app.developer.post(rotate, data={"csrf_token": csrf_of(app.developer)})
    assert own.status_code == 200 and SECRET.search(own.text)


def test_revoking_an_app_refuses_its_token_at_once(gateway: Gateway) -> None:
    app = register(gateway)
    person, uid = signed_in_user(gateway)
    oauth = client(gateway, app, pkce=True)
    url, _ = oauth.create_authorization_url("/next/v1/oauth", code_verifier="c" * 60)
    location = approve(person, url).headers["location"]
    token = oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier="c" * 60)
    with gateway.http(token["access_token"]) as http:
        charged = http.post(
            "/api/v1/user/oauth/charge", data={"amount": "2", "idempotency_key": "k1"}
        )
        assert charged.status_code == 200
    page = person.get("/console/apps/authorized")
    assert "Example app" in page.text and "2.000000" in page.text
    app_id = re.search(r"/console/apps/authorized/(\d+)/revoke", page.text).group(1)  # type: ignore[union-attr]
    done = person.post(
        f"/console/apps/authorized/{app_id}/revoke", data={"csrf_token": csrf_of(person)}
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=revoked")
    with gateway.http(token["access_token"]) as http:
        refused = http.post("/api/v1/user/oauth/balance")
    assert refused.status_code == 401
    assert refused.json()["errorType"] == "oauth_invalid_token_error"
    ledger_matches(gateway, uid, app.owner_id)
