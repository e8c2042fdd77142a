"""Nodedesk's data, rules and use cases."""
