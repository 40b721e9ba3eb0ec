"""Traffic spike (latency or concurrency ALARM): reserved concurrency 200, stage cache 1.6 GB."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediation.runbooks.spike import SpikeRunbook
from remediation.runner import handle
from remediation.tracing import traced

logger = Logger()
metrics = Metrics()
RUNBOOK = SpikeRunbook()


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle(event, context, RUNBOOK)
