"""Live state: domain classes (Room, Session, LiveSession) as plain objects, hosted by thin Ray shard actors."""

import os

# Ray reads RAY_AUTH_MODE once, when it is first imported; setting it later (actors.runtime does, before
# ray.init) reaches a local instance it starts but not the GCS client of a driver joining a cluster, which then
# connects without its token and is refused. Every module that imports Ray lives in this package, so this runs
# first. A configured mode other than token is still refused by actors.runtime.require_token_auth.
os.environ.setdefault("RAY_AUTH_MODE", "token")
