"""Check questions, structured grading, spaced review and the learner profile (issue 15).

Nothing in this package imports Rich: it talks to the terminal through what it is given.
"""
