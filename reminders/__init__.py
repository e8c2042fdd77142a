"""Periodic work: the outbox dispatcher and housekeeping; later the sweep, digests, rankings."""
