"""The tutorials run under nbval after tests/: each in its own kernel, which starts its own
backends. Stop the test session's warm backends first (a second local Ray beside a warm one
is what a loaded 2-core machine does not need)."""

import workbench

_stopped = False


def pytest_runtest_setup(item):
    global _stopped
    if not _stopped:
        workbench.shutdown()
        _stopped = True
