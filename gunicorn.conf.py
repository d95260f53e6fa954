"""gunicorn's settings for the app. gunicorn reads ./gunicorn.conf.py by itself, so
`gunicorn wsgi:app` started in the repository uses them; flags on the command line win.

Limits are kept tight: no request of this API needs a long request line or many headers, and a
request that breaks them is refused by gunicorn before the app sees it. gunicorn answers those
refusals (400, 414, 431) with a small HTML page of its own that no setting changes, so a proxy in
front should refuse such requests first, with the contract's JSON error (README, Deployment).
Values from the environment are read in config.py (BIND, WEB_CONCURRENCY, REQUEST_TIMEOUT,
FORWARDED_ALLOW_IPS).
"""
from config import Server

bind = Server.BIND
workers = Server.WORKERS
timeout = Server.TIMEOUT
graceful_timeout = 30
keepalive = 5  # behind a proxy that reuses its connections

# The longest line a client of this API sends is a list with a cursor: well under 4 KB.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

forwarded_allow_ips = Server.FORWARDED_ALLOW_IPS
errorlog = "-"
