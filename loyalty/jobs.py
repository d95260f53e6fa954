"""Timed work for `run-jobs`: each job is idempotent and commits in small batches."""
from loyalty import clock, idempotency
from loyalty.extensions import db


def prune_idempotency_keys(now):
    removed = idempotency.prune(now)
    db.session.commit()
    return f"{removed} old idempotency keys removed"


# (name, job(now) -> summary). Later work appends its jobs here, in the order they must run.
JOBS = [
    ("idempotency keys", prune_idempotency_keys),
]


def run_all():
    """Run every job as of one moment; yield (name, summary)."""
    now = clock.now()
    for name, job in JOBS:
        yield name, job(now)
