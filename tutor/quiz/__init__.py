"""Check questions, structured grading, spaced review and the learner profile (issue 15).

Only `lesson_quiz` (the link to the lesson's terminal) imports Rich; the rest talks to the
terminal through what it is given.
"""
