"""Ground explanations in the learner's notes: load, chunk, index (BM25, cached), retrieve, cite."""

from tutor.notes.chunking import Chunk, chunk_note
from tutor.errors import NotesError
from tutor.notes.files import ENV_NAME, paths_from_env
from tutor.notes.grounding import GroundedContext, Grounding, passage_block, render_grounded
from tutor.notes.index import IndexProgress, IndexUpdate, NotesIndex, Passage, open_index

__all__ = [
    "ENV_NAME", "Chunk", "GroundedContext", "Grounding", "IndexProgress", "IndexUpdate", "NotesError",
    "NotesIndex", "Passage", "chunk_note", "open_index", "paths_from_env",
    "passage_block", "render_grounded",
]
