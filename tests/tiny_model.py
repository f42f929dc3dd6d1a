"""Build and save a tiny random Llama model with a byte-level BPE tokenizer, offline.

Two layers, a vocabulary of a few hundred tokens: loads in well under a second, so tests can
drive the real local backend. `chat_template=True` adds a ChatML-style template; without it
the backend falls back to the transcript format.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SENTENCES = [
    "A hash table maps keys to values using a hash function.",
    "Recursion is when a function calls itself on a smaller problem.",
    "The tutor explains each idea with a clear example and a short summary.",
    "Gradient descent walks downhill on the loss surface, one small step at a time.",
    "### System:\n### User:\n### Assistant:\n",
]


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(SENTENCES * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", bos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )


def save_tiny_model(
    directory: Path,
    *,
    chat_template: bool = True,
    attention_bias: bool = False,
    seed: int = 0,
    hidden_size: int = 64,
) -> Path:
    """Write config.json, model.safetensors and the tokenizer into `directory`; return it.

    `attention_bias=True` gives the attention projections biases, as Qwen-style models have.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # grouped-query attention, like SmolLM2
        max_position_embeddings=512,
        tie_word_embeddings=True,
        attention_bias=attention_bias,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger weights than the default init, so outputs vary a lot by token
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.3)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
