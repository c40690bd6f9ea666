"""When to send an unacknowledged event again: a retransmission timeout learnt from how long
acknowledgements take (the estimator of RFC 6298, TCP's), never below a floor.

A box that resent on a fixed 5 s would, once the cloud is slower than that (a burst, the fleet
draining after an outage), send everything in flight a second time, doubling the cloud's work
exactly when it has too much, and the queue collapses into resends. Here the timeout follows
the acks: it grows with their latency and doubles after each timeout until an ack is timed
again (Karn's rule: an event that was sent twice gives no sample, since which send the ack
answers is unknown).
"""

from __future__ import annotations

import threading


class ResendTimer:
    """The timeout after which an unacknowledged event is sent again."""

    def __init__(self, floor_s: float = 5.0, ceiling_s: float = 120.0) -> None:
        self.floor_s = floor_s
        self.ceiling_s = ceiling_s
        self._srtt: float | None = None
        self._rttvar = 0.0
        self._backoff = 1
        self._lock = threading.Lock()

    def sample(self, rtt_s: float) -> None:
        """An event sent once was acknowledged *rtt_s* after it was sent."""
        with self._lock:
            if self._srtt is None:
                self._srtt, self._rttvar = rtt_s, rtt_s / 2
            else:
                self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt_s)
                self._srtt = 0.875 * self._srtt + 0.125 * rtt_s
            self._backoff = 1

    def timed_out(self) -> None:
        """Events were sent again: wait twice as long before the next time."""
        with self._lock:
            self._backoff = min(self._backoff * 2, 64)

    @property
    def timeout_s(self) -> float:
        """Seconds after its last send at which an unacknowledged event is sent again."""
        with self._lock:
            base = self.floor_s if self._srtt is None else \
                max(self.floor_s, self._srtt + 4 * self._rttvar)
            return min(self.ceiling_s, base * self._backoff)
