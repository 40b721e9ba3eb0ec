"""Database CPU: warning → storage autoscaling and a read replica; critical → one class step up."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediation.runbooks.db_cpu import DbCpuRunbook
from remediation.runner import handle
from remediation.tracing import traced

logger = Logger()
metrics = Metrics()
RUNBOOK = DbCpuRunbook()


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle(event, context, RUNBOOK)
