"""Pure domain classes: the rules of rooms, live sessions and roles. No Ray, no storage, no I/O."""
