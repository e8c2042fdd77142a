"""The Telegram edge: wiring, handlers, the web server and the command line."""
