"""Which actors ask for which custom Ray resource (CLUBHUB_RAY_SHARD_RESOURCE, CLUBHUB_RAY_RANKER_RESOURCE):
the KubeRay worker groups of the Helm chart rely on it. No Ray: the actor classes are replaced by recorders."""

from __future__ import annotations

import pytest

import actors.client as client
from storage.settings import Settings

URLS = {
    "postgres": "postgres://u:p@db:5432/clubhub",
    "mongo": "mongodb://mongo:27017/clubhub",
    "redis": "redis://r:6379/0",
}


class Recorder:
    """Stands in for a Ray actor class: records the options of every ``.options(...).remote(...)``."""

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def options(self, **options):
        self.calls.append(options)
        return self

    def remote(self, *args, **kwargs):
        return object()


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    calls: dict[str, list] = {}
    # Every actor class ActorClient creates: one left out would start a real Ray here (auto-init).
    kinds = (
        "RoomShard",
        "SessionShard",
        "InteractionConsumer",
        "Notifier",
        "SearchIndexer",
        "MediaWorker",
        "Ranker",
    )
    for kind in kinds:
        calls[kind] = []
        monkeypatch.setattr(client, kind, Recorder(calls[kind]))

    def build(**settings) -> dict[str, list]:
        sized = Settings(room_shards=2, session_shards=2, rankers=3, **settings)
        urls = {**URLS, "s3": "s3://key:secret@s3:8333/media"}
        client.ActorClient(sized.model_copy(update={"data_dir": tmp_path}), urls, redis=None)
        assert not client.ray.is_initialized(), "a real actor was created: Ray started"
        return {kind: [c.get("resources") for c in options] for kind, options in calls.items()}

    return build


def test_unset_resources_leave_placement_to_ray(recorded):
    resources = recorded()
    assert resources == {
        "RoomShard": [None, None],
        "SessionShard": [None, None],
        "InteractionConsumer": [None],
        "Notifier": [None],
        "SearchIndexer": [None],
        "MediaWorker": [None],
        "Ranker": [None, None, None],
    }


def test_shard_and_ranker_resources_pin_their_actors(recorded):
    resources = recorded(ray_shard_resource="clubhub_shard", ray_ranker_resource="clubhub_ranker")
    shard, ranker = {"clubhub_shard": 0.001}, {"clubhub_ranker": 0.001}
    assert resources == {
        "RoomShard": [shard, shard],
        "SessionShard": [shard, shard],
        "InteractionConsumer": [shard],
        "Notifier": [shard],
        "SearchIndexer": [shard],
        "MediaWorker": [shard],
        "Ranker": [ranker, ranker, ranker],
    }


def test_one_resource_alone_pins_only_its_group(recorded):
    resources = recorded(ray_ranker_resource="clubhub_ranker")
    assert resources["RoomShard"] == [None, None]
    assert resources["Ranker"] == [{"clubhub_ranker": 0.001}] * 3


@pytest.mark.parametrize("name", ["CPU", "memory", "2fast", "has space"])
def test_settings_refuse_names_that_are_not_custom_resources(name):
    with pytest.raises(ValueError):
        Settings(ray_shard_resource=name)
