"""The one error type of checkpoint reading: a one-line message naming the file and what is wrong."""

from ..errors import VitkitError


class CheckpointError(VitkitError, ValueError):
    """A file that is not a checkpoint vitkit can read, or does not fit the model it describes."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
