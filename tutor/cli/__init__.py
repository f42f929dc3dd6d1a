"""The `tutor` command line: Typer commands over the library; nothing else prints or exits.

app.py       the Typer app: the error boundary (TutorError -> one line + exit code) and every
             command registered in one place; `main()`
lesson.py    `explain` and `resume` (both start a lesson), and `run_lesson`
history.py   `history`, `show`, `export`, `delete`: the stored lessons
quiz.py      `quiz` and `review`
profile.py   `profile`, and the learner profile's part in a lesson
models.py    `models`: the models tutor can use
pull.py      `pull`: download a GGUF model
notes.py     `--notes` on the terminal: indexing, warnings, the first passages
train.py     `train` and `sample`
serve.py     `serve`: the local model behind an OpenAI-compatible API
help.py      plain `--help` pages with real metavars and grouped options
progress.py  every Rich progress display (model load, notes indexing, download, training)
console.py   the stdout and stderr consoles, the live view's terminal setting, TUTOR_DEBUG
deps.py      what commands take from outside (fakes via `obj=`): consoles, backend builder, tty
choices.py   the option Enums, built from `tutor.config`'s backend, device and level names
storage.py   opening the history database for a command, and the "cards due" hint
terminal.py  the lesson's renderer (live Markdown or plain) and feedback line reader

This package imports nothing here, so `tutor --help` loads only app.py and what it needs.
"""
