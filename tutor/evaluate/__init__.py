"""Measure teaching quality: concept coverage, length, examples, and whether feedback is followed.

`bench/teach_eval.py` is the command line; `run_eval` is the library entry point. Two topic
sets: `TOPICS` to tune prompts on, `HELDOUT` to report on (see `tutor/evaluate/heldout.py`).
"""

from tutor.evaluate.metrics import AnswerMetrics, measure, reading_grade, word_count
from tutor.evaluate.heldout import HELDOUT
from tutor.evaluate.topics import TOPICS, Concept, Topic

__all__ = ["HELDOUT", "TOPICS", "AnswerMetrics", "Concept", "Topic", "measure", "reading_grade", "word_count"]
