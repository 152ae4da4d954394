"""Classes whose methods are tasks, imported by classes_app.py (tasks in a module)."""
from pycompss.api.parameter import IN
from pycompss.api.task import task


class Shape:
    def __init__(self, size=0):
        self.size = size
        self.log = []

    @task()
    def grow(self, by):
        self.size += by
        self.log.append(by)

    @task(returns=1, target_direction=IN)
    def area(self):
        return self.size * self.size

    @classmethod
    @task(returns=1)
    def of_size(cls, size):
        return cls(size)

    def describe(self):
        return f"{type(self).__name__}({self.size})"


class Square(Shape):
    @task()
    def grow(self, by):  # overridden task method
        self.size += 2 * by
        self.log.append(-by)
