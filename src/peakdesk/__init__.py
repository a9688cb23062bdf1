"""peakdesk: customer-service staffing planner for marketplace peak events.

The public API follows the flow of data described in the architecture guide::

    scenario.load() -> demand.sample() -> engine.run() -> summary / rules
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("peakdesk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
