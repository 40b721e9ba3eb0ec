"""Tracing that costs nothing until it is switched on (XRAY_SDK_TRACING).

Lambda's active tracing (`Tracing: Active` in the template) records every invocation, its
duration and errors, with no SDK in the function. The Powertools tracer adds a subsegment for
the handler and for every AWS call, but `Tracer()` imports the X-Ray SDK (and wrapt, and
asyncio): a sixth of a cold start, paid by every function on every cold start. So the tracer is
made at the first invocation, and only when the configuration asks for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], Any]


def traced(handler: Handler) -> Handler:
    """`handler`, wrapped by the Powertools tracer when XRAY_SDK_TRACING is true (decided once)."""
    chosen: list[Handler] = []

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        if not chosen:
            chosen.append(_choose(handler))
        return chosen[0](event, context)

    return run


def _choose(handler: Handler) -> Handler:
    from remediation.errors import ConfigurationError  # noqa: PLC0415  (at the first invocation)
    from remediation.settings import current_settings  # noqa: PLC0415

    try:
        wanted = current_settings().xray_sdk_tracing
    except ConfigurationError:
        return handler  # the handler audits the bad configuration itself
    if not wanted:
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415  (imports the X-Ray SDK)

    return Tracer().capture_lambda_handler(handler)  # type: ignore[no-any-return]
