"""docker/grafana-dashboard.json plots only series the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import cast

from indexer.manifest import Manifest
from service.metrics import ServiceMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "docker" / "grafana-dashboard.json"
# The names a family's samples take, before any label value has been seen.
SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def test_every_citeqa_series_in_the_dashboard_exists() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for e in expressions for name in re.findall(r"\bciteqa_\w+", e)}
    # The index gauges appear only while a generation is served: give them one.
    served = SimpleNamespace(generation=3, documents=5, chunks=23, segments=[object()])
    metrics = ServiceMetrics(lambda: cast(Manifest, served))
    families = list(metrics.registry.collect())
    exported = {sample.name for family in families for sample in family.samples}
    exported |= {
        family.name + suffix
        for family in families
        for suffix in SAMPLE_SUFFIXES.get(family.type, ())
    }
    assert used, "the dashboard plots no citeqa series"
    assert used <= exported, sorted(used - exported)
