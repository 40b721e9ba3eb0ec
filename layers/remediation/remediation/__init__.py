"""PrintApp Remediation: alarm-driven, self-acting runbooks for the print-on-demand app.

The layout is the architecture:
- `alarm`: the edge, SNS-wrapped alarm notifications parsed once into typed models
- `signals`: the runbook's table, which metric is which signal, at what level (the alarm's
  configuration decides)
- `settings`: the environment-variable contract, typed, read once
- `clients`: lazily created AWS clients with one retry policy
- `intents`: what runbooks and the engine say to each other (needs, facts, intents)
- `runbooks/`: pure: what each handler needs read, and what it decides
- `actions/`: one runbook action per file (permissions, parameters, read, plan, apply, holds)
- `runner`: one invocation, from an SNS event to audited decisions
- `approvals`: the approval handler, applying a stored plan once
- `observe`: the engine's reads (the alarm re-read, traffic, triage metrics, history)
- `pipeline`: every intent through one ordered list of guards, crash-consistent
- `guardrails`: trust boundary, kill switch, cooldown
- `state`: idempotency, run records, raise history, baselines, locks, storm breaker, approvals
- `audit`, `contract`: the audit trail on EventBridge, and its typed detail (the public contract)
- `runtime`: the collaborators one invocation works with
- `errors`: every way a decision ends, and its limit, as a type
"""

__version__ = "0.1.0"
