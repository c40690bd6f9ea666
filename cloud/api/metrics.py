"""``GET /metrics``: the Prometheus metrics of the process that answers (docs/metrics.md)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cloud.api.deps import MetricsDep
from cloud.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES)


@router.get("/metrics", include_in_schema=False)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics of this process (docs/metrics.md)."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
