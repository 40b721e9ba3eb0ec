"""Back to normal (OK on the traffic alarms): restore the recorded baseline after the hysteresis window."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediation.runbooks.scale_down import ScaleDownRunbook
from remediation.runner import handle
from remediation.tracing import traced

logger = Logger()
metrics = Metrics()
RUNBOOK = ScaleDownRunbook()


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle(event, context, RUNBOOK)
