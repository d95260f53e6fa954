"""gunicorn settings for one app server among several (deploy/loyalty-web.service):
`gunicorn -c deploy/gunicorn.conf.py wsgi:app`, run from the repository.

The repository's own gunicorn.conf.py (bind, workers, timeouts, request limits, all read from
the environment in config.py) applies first, unchanged; this file only adds what a server of a
cluster needs on top of it.
"""
import runpy
from pathlib import Path

_SHARED = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
if _SHARED.exists():
    globals().update({name: value for name, value in runpy.run_path(str(_SHARED)).items()
                      if not name.startswith("_")})

# The servers' workers tell the master they are alive through a file: in memory, not on a disk
# that may stall under load and get a healthy worker killed.
worker_tmp_dir = "/dev/shm"
# What `ps` and the journal show, to tell this from the webhook deliverer and run-jobs.
proc_name = "loyalty-web"
