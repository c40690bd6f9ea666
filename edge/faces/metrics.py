"""The edge's Prometheus metrics (``GET /metrics``).

Two kinds: instruments the recorder updates as things happen (decisions by gate, outcome and
reason; the open latency from the credential's frame to the relay's acknowledged pulse), and
a collector that reads the box's port (``edge.faces.port``) when Prometheus scrapes (devices,
the event log, the cloud link, the rules, cameras, panel sessions). Names follow Prometheus
conventions: base units, ``_total`` on counters, ``gatepost_edge_`` first. Each daemon has a
registry of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared.metrics import Counted, counter_families

if TYPE_CHECKING:
    from edge.faces.port import Box, SessionCount

# Frame → relay acknowledged: a few ms on a healthy box, seconds when a relay board struggles.
OPEN_BUCKETS = (0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
COUNTED: Counted = (  # the daemon's counters with a metric of their own
    ("open_failures", "relay_open_failures", "Opens the relay board did not acknowledge"),
    ("poll_errors", "input_poll_errors", "Failed reads of a gate's inputs (loop, limits)"),
    ("lane_errors", "lane_errors", "Messages a lane failed to handle"),
    ("passes", "passes", "Vehicles through a gate after an open"),
    ("guard_overrides", "guard_overrides", "Opens by a guard from the panel"),
    ("api_unauthorised", "api_unauthorised", "Local API requests refused for want of a token"),
    ("outbox_full", "event_log_full", "Times the event log was found past its bound"),
    ("disk_floor_reached", "disk_floor_reached", "Times the data disk went under its floor"),
)


class EdgeMetrics:
    """A registry and the instruments the recorder updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._watching: Collector | None = None
        self.decisions = Counter(
            "gatepost_edge_decisions", "Decisions made at a gate, by outcome, reason and the "
            "credential's kind (a plate's: the camera's recognitions that were decided)",
            ["gate", "outcome", "reason", "kind"], registry=self.registry)
        self.open_latency = Histogram(
            "gatepost_edge_open_latency_seconds",
            "From the credential's frame to the relay board's acknowledged pulse",
            ["gate"], buckets=OPEN_BUCKETS, registry=self.registry)

    def watch(self, box: Box, sessions: SessionCount | None) -> None:
        """Read *box*'s state (and the panel's *sessions*) at every scrape."""
        if self._watching is not None:  # an app made again for the same box
            self.registry.unregister(self._watching)
        self._watching = _BoxCollector(box, sessions)
        self.registry.register(self._watching)

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"gatepost_edge_{name}", doc, labels=labels)


def _counter(name: str, doc: str, labels: list[str] | None = None) -> CounterMetricFamily:
    return CounterMetricFamily(f"gatepost_edge_{name}", doc, labels=labels)


class _BoxCollector(Collector):
    def __init__(self, box: Box, sessions: SessionCount | None) -> None:
        self.d, self.sessions = box, sessions

    def collect(self) -> Iterator[Metric]:
        yield from self._devices()
        yield from self._link_and_log()
        yield from self._cameras()
        yield from counter_families("gatepost_edge", COUNTED, self.d.counters.snapshot())
        sessions = _gauge("panel_sessions", "Signed-in panel sessions")
        sessions.add_metric([], self.sessions.count() if self.sessions else 0)
        yield sessions

    def _devices(self) -> Iterator[Metric]:
        relay = _gauge("relay_up", "Whether the gate's relay board answers (1) or not (0)",
                       ["gate"])
        reader = _gauge("reader_up", "Whether the gate's reader line is up (1) or not (0)",
                        ["gate"])
        queue = _gauge("lane_queue", "Messages waiting for the gate's lane", ["gate"])
        restarts = _counter("lane_restarts", "Times the gate's lane was restarted", ["gate"])
        for gate in self.d.lanes.values():
            lane = gate.as_dict()
            if lane["relay_ok"] is not None:
                relay.add_metric([lane["id"]], float(lane["relay_ok"]))
            if lane["reader_ok"] is not None:
                reader.add_metric([lane["id"]], float(lane["reader_ok"]))
            queue.add_metric([lane["id"]], lane["queue"])
            restarts.add_metric([lane["id"]], lane["restarts"])
        yield from (relay, reader, queue, restarts)
        frames = _counter("reader_frames", "Frames read from a reader line", ["reader"])
        rejected = _counter("reader_rejected_frames", "Frames a reader line rejected, by reason",
                            ["reader", "reason"])
        for name, r in self.d.readers.items():
            stats = r.stats()
            frames.add_metric([name], stats.get("frames", 0))
            for reason, n in stats.get("rejected", {}).items():
                rejected.add_metric([name, reason], n)
        yield from (frames, rejected)

    def _link_and_log(self) -> Iterator[Metric]:
        link = self.d.link
        up = _gauge("cloud_connected", "Whether the box is connected to the cloud's broker")
        up.add_metric([], float(bool(link and link.connected)))
        yield up
        version = _gauge("rules_version", "The version of a site's rules the box holds", ["site"])
        epoch = _gauge("rules_epoch_info", "The epoch of a site's rules the box holds",
                       ["site", "epoch"])
        cache = self.d.cache
        for site in self.d.config.sites:
            if cache is not None:
                version.add_metric([site], cache.version(site))
                epoch.add_metric([site, cache.epoch(site)], 1)
        yield from (version, epoch)
        outbox = self.d.outbox
        if outbox is None:
            return
        depth = _gauge("outbox_events", "Events waiting for the cloud's acknowledgement")
        depth.add_metric([], outbox.size())
        age = _gauge("outbox_oldest_age_seconds", "Age of the oldest event waiting (0: none)")
        oldest = outbox.oldest_waiting_at()
        age.add_metric([], max(0.0, (self.d.clock.now() - datetime.fromisoformat(oldest))
                               .total_seconds()) if oldest else 0.0)
        size = _gauge("event_log_bytes", "Bytes the event log's pages hold")
        size.add_metric([], outbox.file_bytes())
        yield from (depth, age, size)
        if self.d.retention is not None:
            disk = self.d.retention.disk
            for name, doc, value in (
                    ("disk_free_bytes", "Free bytes on the data directory's disk (at the last "
                     "pruning, every 5 minutes)", disk.free_bytes),
                    ("disk_floor_bytes", "The free-space floor (disk.min_free_mb)",
                     disk.floor_bytes),
                    ("disk_low", "Whether the disk is under its floor (1) or not (0)",
                     float(disk.low)),
                    ("evidence_bytes", "Bytes of evidence photos", self.d.evidence.used_bytes())):
                g = _gauge(name, doc)
                g.add_metric([], value)
                yield g

    def _cameras(self) -> Iterator[Metric]:
        up = _gauge("camera_up", "Whether the camera's stream is connected", ["camera"])
        fps = _gauge("camera_fps", "Frames a second the camera delivers", ["camera"])
        frames = _counter("camera_frames", "Frames received from the camera", ["camera"])
        drops = _counter("camera_dropped_frames", "Frames dropped (the lane was busy)",
                         ["camera"])
        for name, cam in self.d.cameras.items():
            s = cam.stats()
            up.add_metric([name], float(s["connected"]))
            fps.add_metric([name], s["fps"])
            frames.add_metric([name], s["frames"])
            drops.add_metric([name], s["drops"])
        yield from (up, fps, frames, drops)
