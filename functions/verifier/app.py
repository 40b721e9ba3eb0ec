"""The verifier: some minutes after an applied raise, check that it helped (SPEC §9).

Invoked by the one-time EventBridge Scheduler schedule the change created; emits exactly one of
Remediation Verified, Ineffective (then the next step or an escalation), Drifted, Rolled Back.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediation.tracing import traced
from remediation.verifier import handle_verification, required_permissions

logger = Logger()
metrics = Metrics()
PERMISSIONS = required_permissions()


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle_verification(event, context)
