"""Socket.IO transport: validate an event's payload, call an action, answer with the ack; delivery to sockets."""
