"""A small GPT: model, tokenizer, data, training loop and sampling for `tutor train` / `tutor sample`.

`device.py` (what `--device` means to torch) and `detokenize.py` (ids to text while generating)
serve the transformers backend too.
"""
