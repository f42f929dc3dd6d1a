"""Backends turn a list of chat messages into a stream of plain `str` chunks; none imports Rich.

    base.py                 the `Backend` protocol, `UsageMeter`, the local sampling defaults
    openai.py               OpenAI and any OpenAI-compatible server, through the `openai` SDK
    openai_errors.py        the SDK's failures as our `BackendError`s, keys redacted
    llama.py                GGUF models on llama.cpp (`xllamacpp`): requests, streaming, cancel
    llama_server.py         the in-process llama.cpp server: start, lock, prefix-cache slots
    transformers.py         Hugging Face model folders (what `tutor train` writes)
    transformers_engine.py  its generation loop in a worker thread, stoppable between tokens
    fallback.py             `auto`: OpenAI first, the local model when OpenAI cannot answer
    select.py               the backend a command asked for, from the settings

Each backend module is imported only when it is used, so that `tutor --help` never pays for
torch, transformers, llama.cpp or openai.
"""
