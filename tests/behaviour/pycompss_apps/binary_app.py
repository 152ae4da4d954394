"""Binary tasks: @binary with {param} arguments, streams bound with {Type:, StdIOStream:},
FILE_OUT_STDOUT, and the exit value as returns=int."""
import json

from pycompss.api.api import compss_open, compss_wait_on
from pycompss.api.binary import binary
from pycompss.api.parameter import (
    FILE_IN,
    FILE_OUT,
    FILE_OUT_STDOUT,
    STDIN,
    STDOUT,
    StdIOStream,
    Type,
)
from pycompss.api.task import task


@binary(binary="echo", args="hello {word}")
@task(out={Type: FILE_OUT, StdIOStream: STDOUT})
def say(word, out):
    pass


@binary(binary="tr", args="a-z A-Z")
@task(src={Type: FILE_IN, StdIOStream: STDIN}, dst=FILE_OUT_STDOUT)
def upper(src, dst):
    pass


@binary(binary="sh", args="-c 'exit {code}'", fail_by_exit_value=False)
@task(returns=int)
def exit_with(code):
    pass


def main():
    say("world", "hello.txt")
    upper("hello.txt", "HELLO.txt")
    with compss_open("HELLO.txt") as fh:
        text = fh.read().strip()
    print("RESULT", json.dumps({"text": text, "code": compss_wait_on(exit_with(3))}))


if __name__ == "__main__":
    main()
