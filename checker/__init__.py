"""mechproof's trusted kernel.  Imports only the standard library, numpy, python-flint, mpmath."""

from checker.errors import CheckError, Reason
from checker.model import Model, load_model

__all__ = ["CheckError", "Model", "Reason", "load_model"]
