import gc

from loyalty import create_app

app = create_app()

# What starting the app created (modules, models, schemas: some 150,000 objects) lives as long as
# the process. Left to the garbage collector, every full collection walks all of it again: about
# 140 ms in which a worker answers nothing, once a worker in roughly 7,000 requests under load
# (bench/README.md). Frozen, they are skipped.
gc.freeze()
