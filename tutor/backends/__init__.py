"""Backends turn a list of chat messages into a stream of text chunks.

Each backend module is imported only when it is used, so that `tutor --help` never pays for
torch, transformers or openai.
"""
