"""Quality alerts: a failed critical rule, or any rule under its pass-rate threshold, is posted as
JSON to the alert webhook (``core.alerts``: ``LAKEHOUSE_ALERT_WEBHOOK`` in ``infra/stack.env`` or
the environment). With no channel configured the alerts are logged."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core import alerts as core_alerts

AlertDeliveryError = core_alerts.AlertDeliveryError


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


def send(alerts: list[Alert], url: str | None = None, attempts: int = 3, timeout: float = 10.0) -> int:
    """Post the alerts as one message; returns how many were sent. Retries a failed delivery,
    then raises AlertDeliveryError (the caller records it; the results are already saved)."""
    return core_alerts.post(
        "data-quality", [a.text() for a in alerts], [asdict(a) for a in alerts], url, attempts, timeout
    )
