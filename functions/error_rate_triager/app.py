"""Error rate: find the cause (throttling, database, function errors) and route it; S3 advisories."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediation.runbooks.error_rate import ErrorRateTriageRunbook
from remediation.runner import handle
from remediation.tracing import traced

logger = Logger()
metrics = Metrics()
RUNBOOK = ErrorRateTriageRunbook()


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle(event, context, RUNBOOK)
