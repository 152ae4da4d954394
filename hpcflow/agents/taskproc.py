"""``python -m hpcflow.agents.taskproc FD APP_DIR``: the entry point of a task process."""

import signal
import sys

from hpcflow.agents.worker import main

if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # the walltime warning is for the master
    main(sys.argv)
