"""tutor: a terminal tutor that explains any topic and revises from your feedback.

The layout, one concern per folder (each package's docstring lists its modules):

    cli/        the Typer commands; the only place that prints errors and picks exit codes
    lesson.py   the explain -> feedback -> revise loop (`lesson_io.py`: its terminal and recorder)
    backends/   chat messages in, `str` chunks out: OpenAI, GGUF on llama.cpp, model folders
    models/     where local models come from: shipped wheels, `tutor pull`, caches, folders
    notes/      `--notes`: load, chunk, index (BM25) and cite the learner's own notes
    history/    lessons and quizzes in SQLite: record, list, export, resume
    quiz/       check questions, grading, spaced review, the learner profile
    serve/      `tutor serve`: the local model behind OpenAI's Chat Completions API
    gpt/        a small GPT to train or fine-tune (`tutor train`, `tutor sample`)
    evaluate/   measuring teaching quality on tuning and held-out topics

and the shared vocabulary beside them: `options.py` (messages, sampling options, usage),
`config.py` (settings; the one owner of backend and device names), `errors.py` (domain errors
and exit codes), `prompts.py` (prompts/*.md as templates), `conversation.py` and `socratic.py`
(the requests a lesson sends), `transcript.py` (the plain-text chat form of trained models),
`render.py` + `markdown_blocks.py` (streaming Markdown), `display.py` (error, note and footer
lines), `safe_text.py` (display-time sanitizing), `stops.py`, `files.py`, `paths.py`, `sizes.py`.
"""

__version__ = "0.1.0"
