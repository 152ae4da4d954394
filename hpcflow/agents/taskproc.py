"""``python -m hpcflow.agents.taskproc FD APP_DIR``: the entry point of a task process."""

import signal
import sys

from hpcflow.agents.malloc import forget_ours
from hpcflow.agents.worker import main

if __name__ == "__main__":
    forget_ours()  # read by glibc at start-up; not for what the tasks run
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # the walltime warning is for the master
    main(sys.argv)
