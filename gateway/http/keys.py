"""The application's services, as typed aiohttp keys: set once by ``gateway.app``, read by the handlers."""

from __future__ import annotations

from aiohttp import web

from actors.client import ActorClient
from gateway.actions.accounts import Accounts
from gateway.actions.chat import Chat
from gateway.actions.clubs import Clubs
from gateway.actions.dms import Dms
from gateway.actions.events import Events
from gateway.actions.interactions import Interactions
from gateway.actions.live import Live
from gateway.actions.media import MediaActions
from gateway.actions.notifications import Notifications
from gateway.actions.reels import Reels
from gateway.actions.safety import Safety
from gateway.actions.search import Search
from gateway.core.backends import Backends
from gateway.core.metrics import GatewayMetrics
from storage.settings import Settings

from .metrics import MetricsListener

SETTINGS = web.AppKey("settings", Settings)
BACKENDS = web.AppKey("backends", Backends)
METRICS = web.AppKey("metrics", GatewayMetrics)
METRICS_LISTENER = web.AppKey("metrics_listener", MetricsListener)
ACTORS = web.AppKey("actors", ActorClient)
ACCOUNTS = web.AppKey("accounts", Accounts)
CHAT = web.AppKey("chat", Chat)
DMS = web.AppKey("dms", Dms)
CLUBS = web.AppKey("clubs", Clubs)
EVENTS = web.AppKey("events", Events)
LIVE = web.AppKey("live", Live)
MEDIA = web.AppKey("media", MediaActions)
INTERACTIONS = web.AppKey("interactions", Interactions)
NOTIFICATIONS = web.AppKey("notifications", Notifications)
REELS = web.AppKey("reels", Reels)
SAFETY = web.AppKey("safety", Safety)
SEARCH = web.AppKey("search", Search)
