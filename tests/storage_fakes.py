"""A fake command runner for the storage backends (plugins/module_utils/storage): records
every argv and answers from a script, so tests check exact commands without lvm2 or DRBD."""

from __future__ import annotations

from collections.abc import Sequence

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import CommandResult


class FakeRunner:
    """A storage :data:`Runner` that records every argv and answers from a script.

    ``on(prefix, *answers)`` answers commands whose argv starts with ``prefix`` with the
    given answers in turn (the last one repeats); an answer is a ``CommandResult``, a string
    (stdout, exit 0) or an int (exit status, no output). The longest matching prefix wins (the latest of equals);
    an unscripted command succeeds with no output.
    """

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self._script: list[tuple[tuple[str, ...], list[CommandResult]]] = []

    def on(self, prefix: Sequence[str], *answers: object) -> FakeRunner:
        results = []
        for answer in answers:
            if isinstance(answer, CommandResult):
                results.append(answer)
            elif isinstance(answer, int):
                results.append(CommandResult(answer, "", "error %d" % answer))
            else:
                results.append(CommandResult(0, str(answer), ""))
        self._script.append((tuple(prefix), results))
        return self

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        argv = list(argv)
        assert all(isinstance(arg, str) for arg in argv), argv
        self.calls.append(argv)
        best = None
        for prefix, results in self._script:
            if tuple(argv[:len(prefix)]) == prefix and (best is None or len(prefix) >= len(best[0])):
                best = (prefix, results)
        if best is None:
            return CommandResult(0, "", "")
        results = best[1]
        return results.pop(0) if len(results) > 1 else results[0]

    def commands(self) -> list[str]:
        """The program names run, in order."""
        return [argv[0] for argv in self.calls]
