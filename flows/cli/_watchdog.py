"""A child process that ends with the CLI process, however the CLI dies: a watchdog stops it then.

A child left running when the CLI is killed with SIGKILL (the OOM killer, `kill -9`, a scheduler's hard
timeout) skips every stop at exit, is re-parented and runs on, holding its port, its memory and the command's
stdout and stderr. PR_SET_PDEATHSIG does not cover it: it fires when the thread that started the child ends,
and the temporary Prefect server is started from a short-lived thread.

So a watchdog process, started right after the child, blocks reading a pipe whose write end only the CLI
holds: the end of that pipe means the CLI died (or let go of the child), and the watchdog stops the child,
SIGTERM then SIGKILL as Prefect does. It names the child by a pidfd that the CLI opened before it could reap
the child, so a pid reused since is never signalled. It runs as a script of its own (stdlib only, no site),
outside the CLI's process group (a Ctrl-C leaves it to the CLI) and with no stdout or stderr.

Linux only (pidfd, kernel 5.3); elsewhere no watchdog starts and a killed CLI leaves its child running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys

log = logging.getLogger(__name__)

STOP_WAIT_S = 5  # SIGTERM, then SIGKILL after this long: Prefect's own wait when it stops its server


def watch(child: subprocess.Popen[bytes]) -> subprocess.Popen[bytes] | None:
    """A watchdog that stops `child` when this process dies or calls `release` on it; None where no pidfd.
    Call it before anything can reap `child` (its pid is then still its own)."""
    try:
        pidfd = os.pidfd_open(child.pid)
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
        log.debug("no watchdog: the child %s may outlive a killed CLI", child.pid, exc_info=True)
        return None
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, str(pidfd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(pidfd,),
            start_new_session=True,
        )
    except OSError:  # no process to spare (EMFILE, ENOMEM): the child runs on unwatched, as without a pidfd
        log.debug("no watchdog: the child %s may outlive a killed CLI", child.pid, exc_info=True)
        return None
    finally:
        os.close(pidfd)


def release(watchdog: subprocess.Popen[bytes]) -> None:
    """End `watchdog` once its child has stopped (the stop it then sends finds no process). A process forked
    without exec since would hold the pipe open and the watchdog with it: waited for a bounded time only."""
    watchdog.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        watchdog.wait(timeout=STOP_WAIT_S + 1)


def _stop(pidfd: int) -> None:
    """SIGTERM the process behind `pidfd`, SIGKILL if it has not ended STOP_WAIT_S later."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
    except OSError:
        return  # stopped and reaped already (ESRCH), or signalling refused: nothing more to try
    ended = select.poll()  # a pidfd is readable once its process ended (poll: any fd number, unlike select)
    ended.register(pidfd, select.POLLIN)
    if not ended.poll(STOP_WAIT_S * 1000):
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def main(pidfd: int) -> None:
    """Wait for the end of stdin (the CLI gone, or done with the child), then stop the child."""
    sys.stdin.buffer.read()
    _stop(pidfd)


if __name__ == "__main__":
    main(int(sys.argv[1]))
