"""Locust personas: members of a seeded world using ClubHoloHub the way its clients do.

| persona | weight | what it does |
| --- | --- | --- |
| `ChatMember` | 4 | joins the general room of up to 3 of its clubs over Socket.IO, sends `LOADTEST_SEND_RATE` messages/s (default 0.2), reads history, marks read, reacts, edits its own messages |
| `LiveHost` | 1 | creates an event in a club it moderates, starts its live session, opens and closes polls, pins, answers questions, brings raised hands on stage, ends it after `LOADTEST_LIVE_SESSION_S` (default 120) |
| `Audience` | 3 | joins the hosts' live sessions, raises hands, asks, upvotes, votes |
| `Browser` | 2 | feed with impressions, clicks and dwell logged to `/interactions`, events, RSVPs, club search, history |

    clubhub seed --users 500 --clubs 40 --events 200            # the accounts (password clubhub-demo)
    CLUBHUB_AUTH_RATE_LIMIT=100000 clubhub run                   # every simulated member logs in from one address
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8080 --headless -u 200 -r 20 -t 2m

Weights: `LOADTEST_WEIGHT_<PERSONA>` (e.g. `LOADTEST_WEIGHT_AUDIENCE=10`), or Locust's own
`--config-users '{"user_class_name": "Audience", "weight": 10}'`; naming classes at the end of the command line
(`... ChatMember Browser`) runs only those. Socket.IO calls are Locust requests of type `socketio`, named after
the event; also `deliver` (send -> receipt at another member, from the sender's clock in the text),
`live:state` (live:join -> the whole state), `reconnect` (a dropped socket connected again and its rooms
rejoined with `since_seq`) and `order` (a failure: a gap or a duplicate seq in a room). Other settings:
`CLUBHUB_LOCUST_SEED` and `CLUBHUB_LOCUST_PASSWORD` (the seeded world), `LOADTEST_ACCOUNTS` (a JSON file of
`{email, password?, token?}` to use instead), `LOADTEST_CLUBS_PER_MEMBER`, `LOADTEST_DROP_EVERY_S` (drop every
socket that often, to exercise resuming), `LOADTEST_ACK_TIMEOUT_S`, `LOADTEST_WORKERS` (distributed runs).
The package is `loadtest/locust_personas/`.
"""

from locust_personas import Audience, Browser, ChatMember, LiveHost

__all__ = ["Audience", "Browser", "ChatMember", "LiveHost"]
