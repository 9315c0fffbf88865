#!/bin/sh
# A C compiler for the race test: each call waits until CAIO_BARRIER_PARTIES calls
# have started, so the compiling processes overlap for certain, then runs the real cc.
touch "$CAIO_BARRIER_DIR/$$"
while [ "$(ls "$CAIO_BARRIER_DIR" | wc -l)" -lt "$CAIO_BARRIER_PARTIES" ]; do sleep 0.01; done
exec cc "$@"
