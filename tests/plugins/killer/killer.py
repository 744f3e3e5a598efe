"""A --plugins-dir strategy that kills the process running it: a worker dying mid-cell."""

import os
import signal

from prunebench import Strategy, hookimpl


class KillWorker(Strategy):
    name = "kill-worker"
    description = "SIGKILLs its own process in prune(); for executor fault tests only."

    def prune(self, model, amount, ctx):
        os.kill(os.getpid(), signal.SIGKILL)


class KillNode(Strategy):
    name = "kill-node"
    description = ("SIGKILLs the Ray node running it (its raylet, this worker's parent) in prune(), as a machine that "
                   "leaves the cluster mid-cell; for executor fault tests only.")

    def prune(self, model, amount, ctx):
        os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)  # a machine that is gone takes its processes with it


@hookimpl
def register_strategies(register):
    register(KillWorker)
    register(KillNode)
