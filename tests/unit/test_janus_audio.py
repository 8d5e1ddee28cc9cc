"""The audio keys and the Janus-side bookkeeping that need no Janus: tokens, PINs, talking events, and
the credentials a member is given."""

import base64
import hashlib
import hmac

from gateway.actions.live import NO_MEDIA_SERVER, Live
from storage.janus import MONITOR_ID, PLUGINS, AudioRooms, JanusKeys

KEYS = JanusKeys("ws://127.0.0.1:8188", "token-secret", "admin-key")


def test_the_core_token_is_what_janus_token_auth_checks():
    token = KEYS.core_token(ttl_s=60, now=1000)
    data, signature = token.rsplit(":", 1)
    assert data == f"1060,janus,{','.join(PLUGINS)}"
    expected = hmac.new(b"token-secret", data.encode(), hashlib.sha1).digest()
    assert base64.b64decode(signature) == expected


def test_stage_tokens_and_pins_are_per_user_session_and_epoch():
    assert KEYS.stage_token(1, 2) != KEYS.stage_token(1, 3) != KEYS.stage_token(2, 3)
    assert KEYS.stage_token(1, 2) == JanusKeys("ws://other", "x", "admin-key").stage_token(1, 2)
    assert KEYS.listen_pin(1, 0) != KEYS.listen_pin(1, 1)
    assert KEYS.monitor_token(1) not in {KEYS.stage_token(1, u) for u in range(100)}
    # Another deployment's key derives nothing of ours.
    assert JanusKeys(KEYS.url, "t", "other-key").room_secret(1) != KEYS.room_secret(1)


def test_talking_events_of_the_monitored_stage_are_relayed_and_silences_inferred():
    rooms = AudioRooms(KEYS)
    heard: list[tuple[int, int, bool]] = []
    rooms.on_talking = lambda event, user, talking: heard.append((event, user, talking))
    rooms._monitored[77] = 5  # monitor handle 77 is on session 5's stage
    rooms._event(77, {"audiobridge": "talking", "room": 5, "id": 42})
    rooms._event(77, {"audiobridge": "talking", "room": 5, "id": MONITOR_ID})
    rooms._event(78, {"audiobridge": "talking", "room": 6, "id": 43})  # not a monitor handle
    rooms._event(77, {"audiobridge": "event", "participants": [{"id": 42, "muted": True}, {"id": 7}]})
    rooms._event(77, {"audiobridge": "event", "leaving": 9})
    rooms._event(77, {"audiobridge": "event", "kicked": 11})
    rooms._event(77, {"audiobridge": "stopped-talking", "room": 5, "id": 42})
    assert heard == [(5, 42, True), (5, 42, False), (5, 9, False), (5, 11, False), (5, 42, False)]


def test_credentials_follow_the_role_and_say_why_when_there_is_no_audio():
    state = {"host_id": 1, "speakers": [2]}
    without = Live(None, None, None, None)  # type: ignore[arg-type]
    assert without.audio(5, 1, {"state": state}) == {"audio": None, "audio_unavailable": NO_MEDIA_SERVER}
    live = Live(None, None, None, None, audio_keys=KEYS)  # type: ignore[arg-type]
    host = live.audio(5, 1, {"state": state, "audio_epoch": 3})["audio"]
    speaker = live.audio(5, 2, {"state": state, "audio_epoch": 3})["audio"]
    listener = live.audio(5, 3, {"state": state, "audio_epoch": 3})["audio"]
    assert host["can_speak"] and host["stage_token"] == KEYS.stage_token(5, 1)
    assert speaker["can_speak"] and speaker["stage_token"] == KEYS.stage_token(5, 2)
    assert not listener["can_speak"] and "stage_token" not in listener
    assert listener["pin"] == KEYS.listen_pin(5, 3) and listener["stream"] == listener["room"] == 5
    assert KEYS.room_secret(5) not in str([host, speaker, listener])  # the room secret never leaves
