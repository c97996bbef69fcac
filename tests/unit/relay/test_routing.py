"""Router: enabled channels only, best priority first, weights shared within a priority."""

from __future__ import annotations

from collections import Counter

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.routing import Router


def _channel(cid: int, models: dict[str, str], **kw: object) -> ChannelSpec:
    return ChannelSpec(
        id=cid,
        name=f"c{cid}",
        type="openai",
        base_url="http://x",
        api_key="k",
        models=models,
        **kw,  # type: ignore[arg-type]
    )


def test_unknown_model_has_no_route() -> None:
    router = Router()
    router.load([_channel(1, {"a": "a"})])
    assert router.pick("b") is None


def test_mapping_gives_the_upstream_name() -> None:
    router = Router()
    router.load([_channel(1, {"public": "upstream-x"})])
    route = router.pick("public")
    assert route is not None and route.upstream_model == "upstream-x" and route.channel.id == 1


def test_disabled_channels_do_not_serve() -> None:
    router = Router()
    router.load([_channel(1, {"a": "a"}, enabled=False)])
    assert router.pick("a") is None
    assert router.models() == []


def test_lowest_priority_number_wins() -> None:
    router = Router()
    router.load([_channel(1, {"a": "a"}, priority=5), _channel(2, {"a": "a"}, priority=1)])
    assert {router.pick("a").channel.id for _ in range(50)} == {2}  # type: ignore[union-attr]


def test_weights_share_calls_within_a_priority() -> None:
    router = Router()
    router.load([_channel(1, {"a": "a"}, weight=1), _channel(2, {"a": "a"}, weight=3)])
    counts = Counter(router.pick("a").channel.id for _ in range(4000))  # type: ignore[union-attr]
    assert set(counts) == {1, 2}
    assert counts[2] > counts[1] * 2


def test_models_lists_each_public_name_once() -> None:
    router = Router()
    router.load([_channel(1, {"a": "a", "b": "b"}), _channel(2, {"a": "a"})])
    assert [m for m, _ in router.models()] == ["a", "b"]


def test_routes_list_fallbacks_after_the_preferred_group() -> None:
    router = Router()
    router.load(
        [
            _channel(1, {"a": "a"}, priority=0),
            _channel(2, {"a": "a"}, priority=0),
            _channel(3, {"a": "a"}, priority=7),
        ]
    )
    for _ in range(20):
        order = [r.channel.id for r in router.routes("a")]
        assert sorted(order[:2]) == [1, 2] and order[2] == 3
    assert router.routes("missing") == []
