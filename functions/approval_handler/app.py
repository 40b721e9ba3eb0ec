"""Approvals: apply exactly the plan a human approved ({"decisionId": ..., "approver": ...}), once."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediation.approvals import handle_approval, required_permissions
from remediation.tracing import traced

logger = Logger()
metrics = Metrics()
PERMISSIONS = required_permissions()


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle_approval(event, context)
