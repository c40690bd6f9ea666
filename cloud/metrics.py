"""The cloud's Prometheus metrics (``GET /metrics`` in ``cloud.api.metrics``, with a key that
may read).

Instruments updated as things happen (the ack latency of stored events, rules changes, the
jobs' durations) and a collector that reads the process's counters and queues at each scrape.
With several cloud processes each answers for itself, like ``/api/v1/health``: Prometheus
scrapes every one and sums. Names: ``gatepost_cloud_…``, base units, ``_total`` on counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared.metrics import Counted, counter_families

if TYPE_CHECKING:
    from cloud.ingest.mqtt import CloudMqtt
    from cloud.notify import Notifier
    from cloud.partners.forward import Forwarder

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)
INGEST: Counted = (  # the ingest's counters with a metric of their own
    ("stored", "events_stored", "Events stored (each once)"),
    ("duplicates", "events_duplicate", "Events received again and acknowledged, not stored"),
    ("rejected_events", "events_rejected", "Event messages refused as malformed or too big"),
    ("store_errors", "store_errors", "Batches the database refused (the boxes resend)"),
    ("batches", "event_batches", "Transactions that stored events"),
)


class CloudMetrics:
    """A registry and the instruments of one cloud process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ack_latency = Histogram(
            "gatepost_cloud_event_ack_seconds",
            "From an event's arrival at this process to its acknowledgement, after commit",
            buckets=ACK_BUCKETS, registry=self.registry)
        self.rules_changes = Counter(
            "gatepost_cloud_rules_changes", "Rules versions made by this process",
            registry=self.registry)
        self.activations_refused = Counter(
            "gatepost_cloud_activations_refused", "Residents' sticker activations refused, "
            "by reason (wrong secrets and unknown tag ids among them)", ["reason"],
            registry=self.registry)
        self.job_duration = Histogram(
            "gatepost_cloud_job_duration_seconds", "Runs of a cloud job and how long they took",
            ["job"], buckets=JOB_BUCKETS, registry=self.registry)

    def watch(self, link: CloudMqtt | None, notifier: Notifier,
              rejected: dict[str, int], forwarder: Forwarder | None = None) -> None:
        """Read the process's counters and queues at every scrape."""
        self.registry.register(_CloudCollector(link, notifier, rejected, forwarder))


class _CloudCollector(Collector):
    def __init__(self, link: CloudMqtt | None, notifier: Notifier,
                 rejected: dict[str, int], forwarder: Forwarder | None) -> None:
        self.link, self.notifier, self.rejected = link, notifier, rejected
        self.forwarder = forwarder

    def collect(self) -> Iterator[Metric]:
        counters = self.link.counters.snapshot() if self.link else {}
        yield from counter_families("gatepost_cloud", INGEST, counters)
        refused = CounterMetricFamily(
            "gatepost_cloud_refused", "Messages refused from a box for a gate it was not "
            "assigned, by what they were (event, gate_claim, command_response, pass_parking)",
            labels=["cause"])
        for key, n in counters.items():
            if key.startswith("refused_"):
                refused.add_metric([key.removeprefix("refused_")], n)
        yield refused
        requests = CounterMetricFamily("gatepost_cloud_requests_rejected",
                                       "API requests refused as malformed (400/422)")
        requests.add_metric([], self.rejected["requests"])
        yield requests
        up = GaugeMetricFamily("gatepost_cloud_mqtt_connected",
                               "Whether this process is connected to the broker")
        up.add_metric([], float(bool(self.link and self.link.connected.is_set())))
        yield up
        queued = GaugeMetricFamily("gatepost_cloud_events_queued",
                                   "Events received and not yet stored")
        queued.add_metric([], self.link.writer.depth if self.link else 0)
        yield queued
        if self.link is not None:
            reactions = GaugeMetricFamily(
                "gatepost_cloud_reactions_queued", "Reactions to stored events in the queue, "
                "by state (waiting, failing: tried again after a back-off, parked: failed too "
                "often, tried no more)", labels=["state"])
            queue = self.link.reactions.pending()
            reactions.add_metric(["waiting"], queue["pending"] - queue["failing"])
            reactions.add_metric(["failing"], queue["failing"])
            reactions.add_metric(["parked"], queue["parked"])
            yield reactions
        outbox = GaugeMetricFamily("gatepost_cloud_notifications_pending",
                                   "Notification deliveries waiting to go out")
        outbox.add_metric([], self.notifier.pending())
        yield outbox
        if self.forwarder is not None:
            pending = GaugeMetricFamily("gatepost_cloud_partner_events_pending",
                                        "Entries and exits waiting for a partner app")
            pending.add_metric([], self.forwarder.pending())
            yield pending
            sent = CounterMetricFamily("gatepost_cloud_partner_forwarded",
                                       "Events offered to partner apps by this process, by "
                                       "outcome (sent, failed: tried again later)",
                                       labels=["outcome"])
            sent.add_metric(["sent"], self.forwarder.sent)
            sent.add_metric(["failed"], self.forwarder.failed)
            yield sent
