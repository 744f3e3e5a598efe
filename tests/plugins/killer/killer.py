"""A --plugins-dir strategy that kills the process running it: a worker dying mid-cell."""

import os
import signal

from prunebench import Strategy, hookimpl


class KillWorker(Strategy):
    name = "kill-worker"
    description = "SIGKILLs its own process in prune(); for executor fault tests only."

    def prune(self, model, amount, ctx):
        os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def register_strategies(register):
    register(KillWorker)
