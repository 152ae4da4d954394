"""Tasks as instance methods (self INOUT; target_direction=IN), classmethods, inherited
and overridden task methods, a class as returns (f().method() chains tasks)."""
import json

from pycompss.api.api import compss_wait_on
from pycompss.api.task import task
from shapes import Shape, Square


class Account:
    def __init__(self):
        self.balance = 0

    @task()
    def deposit(self, amount):
        self.balance += amount


@task(returns=Account)
def open_account():
    return Account()


@task(returns=Shape)
def make_shape(size):
    return Shape(size)


def main():
    out = {}
    s = Shape(1)
    s.grow(2)
    s.grow(3)
    out["area"] = compss_wait_on(s.area())
    s = compss_wait_on(s)
    out["shape"] = [s.size, s.log]
    q = Square(1)
    q.grow(1)           # overridden
    area = q.area()     # inherited, self IN
    q = compss_wait_on(q)
    out["square"] = [q.size, q.log, compss_wait_on(area)]
    made = Square.of_size(4)
    out["classmethod"] = compss_wait_on(made).describe()
    acc = open_account()
    acc.deposit(10)
    acc.deposit(5)
    acc = compss_wait_on(acc)
    out["account"] = [type(acc).__name__, acc.balance]
    shape = make_shape(2)
    shape.grow(1)
    out["chained_area"] = compss_wait_on(shape.area())
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
