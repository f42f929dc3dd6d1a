"""Measure teaching quality: concept coverage, length, examples, and whether feedback is followed.

`bench/teach_eval.py` is the command line; `run_eval` is the library entry point.
"""

from tutor.evaluate.metrics import AnswerMetrics, measure, reading_grade, word_count
from tutor.evaluate.topics import TOPICS, Concept, Topic

__all__ = ["TOPICS", "AnswerMetrics", "Concept", "Topic", "measure", "reading_grade", "word_count"]
