"""A small GPT: model, tokenizer, data, training loop and sampling for `tutor train` / `tutor sample`."""
