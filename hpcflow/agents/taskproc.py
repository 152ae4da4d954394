"""``python -m hpcflow.agents.taskproc FD APP_DIR``: the entry point of a task process."""

import sys

from hpcflow.agents.worker import main

if __name__ == "__main__":
    main(sys.argv)
