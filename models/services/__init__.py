"""Use cases: each takes a session and `now`, writes state, audit and outbox in one transaction."""
