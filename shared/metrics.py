"""What the edge's and the cloud's Prometheus metrics share."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily

# A counter of the process that is a metric of its own: (counter key, metric name, help).
Counted = tuple[tuple[str, str, str], ...]


def counter_families(prefix: str, table: Counted,
                     counters: Mapping[str, int]) -> Iterator[CounterMetricFamily]:
    """One ``<prefix>_<name>_total`` counter per row of *table*, from *counters* (0 when the
    process has not counted it yet, so the series exists from the first scrape)."""
    for key, name, doc in table:
        family = CounterMetricFamily(f"{prefix}_{name}", doc)
        family.add_metric([], counters.get(key, 0))
        yield family
