"""DocuMind's Dramatiq middleware: each is a small set of hooks with one job."""

from documind.middleware.deliveries import DeliveryCounter
from documind.middleware.liveness import Liveness
from documind.middleware.log_context import LogContext
from documind.middleware.unroutable import Unroutable

__all__ = ["DeliveryCounter", "Liveness", "LogContext", "Unroutable"]
