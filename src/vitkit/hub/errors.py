"""The hub's error: a checkpoint name that cannot be resolved, fetched, verified or cached, in one line."""

from ..errors import VitkitError


class HubError(VitkitError):
    """A by-name checkpoint problem: unknown name, every source failed, bad download, cache not writable."""
