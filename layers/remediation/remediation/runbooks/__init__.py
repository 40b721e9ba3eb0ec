"""One runbook per handler: the alarms it takes and the actions it runs."""
