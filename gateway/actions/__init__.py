"""Use cases, one method per action, shared by the REST and Socket.IO transports and free of both."""
