"""Live state: domain classes (Room, Session, LiveSession) as plain objects, hosted by thin Ray shard actors."""
