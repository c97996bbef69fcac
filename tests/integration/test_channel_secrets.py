"""The operator's channel routes never return a secret: the upstream keys are redacted and
a proxy URL's password is masked (``http://user:***@host:port``); sending the masked URL
back is refused, so the stored password is never overwritten with the mask."""

from __future__ import annotations

import uuid

from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.proxy import FakeProxy
from tests.harness import Gateway

USER = [{"role": "user", "content": "hi"}]


def test_proxy_password_is_masked_and_never_overwritten_by_the_mask(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    gw = sqlite_gateway
    with FakeProxy(auth="relay:s3cret-pw") as proxy:
        model = f"px-{uuid.uuid4().hex[:8]}"
        channel = gw.add_channel(fake, models=[model], options={"proxy_url": proxy.url})
        masked = f"http://relay:***@127.0.0.1:{proxy.port}"
        assert channel["options"]["proxy_url"] == masked
        path = f"/channels/{channel['id']}"
        for response in (gw.operator.get(path), gw.operator.get("/channels")):
            assert response.status_code == 200
            assert "s3cret-pw" not in response.text and masked in response.text

        # the channel as it was shown, sent back whole: refused, the stored URL is kept
        shown = gw.op("GET", path)
        refused = gw.operator.patch(path, json={"options": shown["options"], "priority": 3})
        assert refused.status_code == 400, refused.text
        assert "proxy_url" in refused.json()["message"]
        assert gw.op("GET", path)["priority"] == 0

        # a change without the options keeps them; the proxy still lets the channel through
        assert gw.op("PATCH", path, json={"priority": 2})["options"]["proxy_url"] == masked
        key = gw.make_user_key()
        answer = gw.openai(key.key).chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == fake.default.text
        assert [r.headers["proxy-authorization"] for r in proxy.requests] == [
            "Basic cmVsYXk6czNjcmV0LXB3"  # relay:s3cret-pw
        ]


def test_a_new_channel_with_the_mask_as_its_password_is_refused(sqlite_gateway: Gateway) -> None:
    body = {
        "name": f"masked-{uuid.uuid4().hex[:6]}",
        "base_url": "http://upstream.test/v1",
        "api_key": "sk-x",
        "models": ["m"],
        "options": {"proxy_url": "http://relay:***@proxy.test:3128"},
    }
    refused = sqlite_gateway.operator.post("/channels", json=body)
    assert refused.status_code == 400 and "masked password" in refused.json()["message"]
