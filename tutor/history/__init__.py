"""Lesson history: every lesson is kept in a local SQLite database so it can be listed, shown,
exported and resumed (`tutor history`, `show`, `export`, `resume`, `delete`)."""
