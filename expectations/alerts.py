"""Quality alerts: a failed critical rule, or any rule under its pass-rate threshold, is posted as
JSON to a webhook (``LAKEHOUSE_ALERT_WEBHOOK`` in ``infra/stack.env`` or the environment; Slack-
or Teams-style receivers take the ``text`` field). With no channel configured the alerts are logged."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass

log = logging.getLogger(__name__)


class AlertDeliveryError(RuntimeError):
    pass


@dataclass(frozen=True)
class Alert:
    run_id: str
    layer: str
    table: str
    rule: str
    check: str
    dimension: str
    severity: str
    outcome: str
    rows_checked: int
    rows_failed: int
    pass_rate: float
    threshold: float

    def text(self) -> str:
        return (
            f"[{self.severity}] {self.layer} {self.table}: rule {self.rule} ({self.dimension}) failed on "
            f"{self.rows_failed:,} of {self.rows_checked:,} rows, pass rate {self.pass_rate:.2%} "
            f"(threshold {self.threshold:.0%}); {self.outcome}; run {self.run_id}"
        )


def alerts_for(results, run_id: str) -> list[Alert]:
    """Results -> alerts: a critical rule that failed rows (stopped or quarantined), or a pass rate
    under the rule's threshold."""
    out = []
    for r in results:
        c = r.check
        critical_failed = c.severity == "critical" and r.rows_failed > 0 and (r.outcome != "passed")
        if critical_failed or not r.passed:
            out.append(
                Alert(
                    run_id,
                    c.layer,
                    c.table,
                    c.rule,
                    c.name,
                    c.dimension,
                    c.severity,
                    r.outcome,
                    r.rows_checked,
                    r.rows_failed,
                    round(r.pass_rate, 6),
                    c.threshold,
                )
            )
    return out


def webhook_url() -> str | None:
    from core.settings import get_settings

    return get_settings().alert_webhook or None


def send(alerts: list[Alert], url: str | None = None, attempts: int = 3, timeout: float = 10.0) -> int:
    """Post the alerts as one message; returns how many were sent. Retries a failed delivery,
    then raises AlertDeliveryError (the caller records it; the results are already saved)."""
    url = url or webhook_url()
    if not alerts:
        return 0
    for a in alerts:
        log.warning("quality alert: %s", a.text())
    if not url:
        log.warning("quality alerts: no channel configured (LAKEHOUSE_ALERT_WEBHOOK); %d logged only", len(alerts))
        return 0
    body = json.dumps(
        {
            "text": f"{len(alerts)} data-quality alert(s):\n" + "\n".join(a.text() for a in alerts),
            "alerts": [asdict(a) for a in alerts],
        }
    ).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    last = None
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if 200 <= response.status < 300:
                    return len(alerts)
                last = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as e:
            last = str(e)
        time.sleep(0.5 * 2**attempt)
    raise AlertDeliveryError(f"webhook {url} refused {len(alerts)} alert(s) after {attempts} attempts: {last}")
