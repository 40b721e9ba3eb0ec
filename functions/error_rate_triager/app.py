"""Error rate: find the cause (throttling, database, function errors) and route it; S3 advisories."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediation.runbooks.error_rate import ErrorRateTriageRunbook
from remediation.runner import handle

logger = Logger()
tracer = Tracer()
metrics = Metrics()
RUNBOOK = ErrorRateTriageRunbook()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle(event, context, RUNBOOK)
