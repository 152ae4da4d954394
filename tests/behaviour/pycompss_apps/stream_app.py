"""DistroStreams: two producer tasks publish objects while a consumer task polls them
(STREAM_OUT / STREAM_IN, no dependency between them); a producer writes files into a
FileDistroStream that the main program polls until every producer has closed it."""
import json
import os
import sys
import time

from pycompss.api.api import compss_barrier, compss_wait_on
from pycompss.api.parameter import STREAM_IN, STREAM_OUT
from pycompss.api.task import task
from pycompss.streams.distro_stream import FileDistroStream, ObjectDistroStream


@task(ods=STREAM_OUT)
def produce(ods, first, count):
    for i in range(first, first + count):
        ods.publish({"value": i})
        time.sleep(0.05)
    ods.close()


@task(ods=STREAM_IN, returns=1)
def consume(ods):
    seen = []
    while not ods.is_closed():
        seen += [o["value"] for o in ods.poll(timeout=100)]
    seen += [o["value"] for o in ods.poll()]  # what came just before the close
    return sorted(seen)


@task(fds=STREAM_OUT)
def write_files(fds, count):
    for i in range(count):
        tmp = os.path.join(fds.base_dir, f".part{i}")
        with open(tmp, "w") as fh:
            fh.write(str(i * i))
        os.rename(tmp, os.path.join(fds.base_dir, f"f{i}.txt"))
        time.sleep(0.05)
    fds.close()


def main(workdir):
    ods = ObjectDistroStream()
    received = consume(ods)  # submitted first: it polls while the producers run
    produce(ods, 0, 5)
    produce(ods, 100, 5)
    values = compss_wait_on(received)
    fds = FileDistroStream(base_dir=os.path.join(workdir, "stream-files"))
    write_files(fds, 4)
    contents = []
    while not fds.is_closed():
        contents += [open(p).read() for p in fds.poll(timeout=100)]
    contents += [open(p).read() for p in fds.poll()]
    compss_barrier()
    print("RESULT", json.dumps({"objects": values, "files": sorted(contents, key=int)}))


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
