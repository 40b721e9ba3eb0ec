"""PrintApp Remediation: alarm-driven, self-acting runbooks for the print-on-demand app.

The layout is the architecture:
- `alarm`: the edge, SNS-wrapped alarm notifications parsed once into typed models
- `signals`: the runbook's table, which metric is which signal and at what level
- `settings`: the environment-variable contract, typed, read once
- `clients`: lazily created AWS clients with one retry policy
- `actions/`: one runbook action per file (permissions, parameters, read, plan, apply)
- `guardrails`: trust boundary, kill switch, verification, cooldown, hysteresis
- `state`: idempotency, raise history, baselines, locks, storm breaker (one DynamoDB table)
- `audit`: the audit trail on EventBridge (the public contract)
- `evidence`: what a runbook reads before it acts
- `runbooks/`: which actions each handler runs, and when
- `runner`: the one path from an SNS event to audited decisions
"""

__version__ = "0.1.0"
