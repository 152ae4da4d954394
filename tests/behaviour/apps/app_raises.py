def helper():
    raise ValueError("the app itself is wrong")


helper()
