"""A DistroStream parameter: not supported, said in one line."""
from pycompss.api.parameter import STREAM_OUT
from pycompss.api.task import task


@task(ods=STREAM_OUT)
def produce(ods):
    ods.publish("x")


produce(None)
