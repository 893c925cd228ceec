"""One refit leader among replicas: a lease in Redis.

Every replica learns every ``$refit-begin`` and ``$refit-end`` (engine/refits.py), so any of
them could fit; one at a time should, or each refit is computed once per replica and ended
several times (harmless, the first end wins, but wasted). The lease holder begins refits,
fits them, writes the artefact to the shared directory and logs the end; the others load the
artefact the end names at its place in the log. The holder renews the lease at each of its
trainer's polls; when it dies, the lease expires after ``ttl_s`` and the next replica to ask
takes it, and fits whatever was begun and never ended (the dead leader's refit): a begun fit
is in every replica's state, taken at the begin's position, so the new leader's result is the
same fit.

The lease decides who does the work, never what the state is: state stays a function of the
log, whatever replica wrote the markers. Two leaders at once (a paused process whose lease
expired) cost a duplicated fit, not a divergence.
"""

from __future__ import annotations

import logging
import threading
import uuid

from streamrec.storage.redis_conn import calling_redis, redis_client

log = logging.getLogger(__name__)

# KEYS[1] the lease; ARGV: holder, ttl ms. Takes a free lease or renews our own.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RefitLease:
    def __init__(self, url: str, prefix: str, ttl_s: float) -> None:
        self.redis = redis_client(url)
        self.key = f"{prefix}refit-leader"
        self.holder = uuid.uuid4().hex
        self.ttl_ms = max(100, int(ttl_s * 1000))
        self._hold = self.redis.register_script(_HOLD)
        self._release = self.redis.register_script(_RELEASE)
        self.held = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Hold the lease from a thread of its own, renewed every third of its time: a long
        fit never lets it lapse while this process lives."""
        self.holds()
        self._thread = threading.Thread(target=self._run, name="refit-lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            self.holds()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.release()

    def holds(self) -> bool:
        """Take or renew the lease; True while this replica leads. Redis unreachable: False
        (nobody can be sure to lead, so nobody begins a refit)."""
        try:
            held = bool(calling_redis("hold the refit lease", lambda: self._hold(
                keys=[self.key], args=[self.holder, self.ttl_ms])))
        except Exception as error:  # Unavailable, or a script error: not the leader
            log.warning("refit lease: %s", error)
            held = False
        if held != self.held:
            log.info("refit leadership %s", "taken" if held else "lost")
        self.held = held
        return held

    def release(self) -> None:
        """At a clean stop: the next replica need not wait for the lease to expire."""
        try:
            self._release(keys=[self.key], args=[self.holder])
        except Exception as error:
            log.warning("refit lease not released: %s", error)
        self.held = False
