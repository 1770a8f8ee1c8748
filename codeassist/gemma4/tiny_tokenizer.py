"""The tiny checkpoint's tokenizer: Gemma 4's tokenizer in miniature (docs/prompt-format.md).

Built the way the released one works, so that llama.cpp's converter takes it as it is and
llama.cpp tokenizes a text into the same ids as transformers does:
- BPE with byte fallback: the 256 `<0xXX>` tokens make every text encodable and every id
  decodable;
- SentencePiece style: a space becomes `▁` and merges run over the whole line (no split into
  words); only newline runs are cut out, and a run of up to 31 newlines is one token;
- the control tokens at the released ids (tokens.FIXED_IDS), `<unusedN>` fillers between;
- exactly `vocab_size` entries, so every id the random model can emit is a token.
The merges are learnt from the bundled corpus, split into words for training only (as
SentencePiece trains), pieces capped at 16 characters.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from codeassist.gemma4.tokens import BOS, EOS, FIXED_IDS, MASK, NEWLINE_ID, NEWLINE_RUNS, PAD, UNK

SPACE = "▁"
MAX_PIECE = 16
# Training splits (never used when encoding): an indent run keeps its last space for the word
# after it, a word or a punctuation run takes one leading space, digits stand alone.
_TRAINING_SPLIT = r"▁+(?=▁)|▁?[\p{L}_]+|\p{N}|▁?[^\p{L}\p{N}_▁]+|▁+"
_NEWLINE_RUN = r"\n+"


def control_tokens() -> list[str]:
    """Ids 0..106: the released control tokens at their ids, `<unusedN>` fillers elsewhere."""
    size = NEWLINE_ID
    by_id = {index: token for token, index in FIXED_IDS.items()}
    fillers = iter(range(size))
    return [by_id.get(index) or f"<unused{next(fillers)}>" for index in range(size)]


def newline_tokens() -> list[str]:
    return ["\n" * count for count in range(1, NEWLINE_RUNS + 1)]


def byte_tokens() -> list[str]:
    return [f"<0x{value:02X}>" for value in range(256)]


def _new_backend(vocab: dict[str, int] | None = None, merges: list[tuple[str, str]] | None = None):
    """A BPE tokenizer with Gemma's normalizer, newline split and decoder (no added tokens)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    if vocab is None:
        model = models.BPE()
    else:
        model = models.BPE(
            vocab=vocab, merges=merges or [], unk_token=UNK, fuse_unk=True, byte_fallback=True
        )
    backend = Tokenizer(model)
    backend.normalizer = normalizers.Replace(" ", SPACE)
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(_NEWLINE_RUN), behavior="isolated")
    backend.decoder = decoders.Sequence(
        [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    return backend


def learn_pieces(corpus: str, count: int) -> tuple[list[str], list[tuple[str, str]]]:
    """`count` pieces (the corpus' characters, then merge results) and the merges, in order."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

    trainer_backend = Tokenizer(models.BPE())
    trainer_backend.normalizer = normalizers.Replace(" ", SPACE)
    trainer_backend.pre_tokenizer = pre_tokenizers.Split(Regex(_TRAINING_SPLIT), "isolated")
    trainer = trainers.BpeTrainer(
        vocab_size=count, max_token_length=MAX_PIECE, show_progress=False, special_tokens=[]
    )
    lines = [line for line in corpus.split("\n") if line]
    trainer_backend.train_from_iterator(lines, trainer)
    learnt = json.loads(trainer_backend.to_str())["model"]
    pieces = [token for token, _ in sorted(learnt["vocab"].items(), key=lambda item: item[1])]
    # tokenizers writes merges as pairs (older releases: "a b" strings; pieces hold no spaces)
    merges = [
        tuple(pair.split(" ", 1)) if isinstance(pair, str) else tuple(pair)
        for pair in learnt["merges"]
    ]
    if len(pieces) != count:
        raise RuntimeError(
            f"tiny tokenizer: the corpus gives {len(pieces)} pieces, {count} are needed; "
            "add text to tiny_corpus.txt"
        )
    return pieces, merges


def newline_merges(vocab: dict[str, int], merges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Merges to append so that BPE turns every run of up to 31 newlines into one token.

    Appended merges rank last, so they never change how a shorter run merges; llama.cpp looks
    a newline run up whole and BPE-merges only longer ones, which then agree with ours.
    """
    merges = list(merges)
    for run in newline_tokens()[1:]:
        while True:
            pieces = _new_backend(vocab, merges).encode(run, add_special_tokens=False).tokens
            if len(pieces) == 1:
                break
            merges.append((pieces[0], pieces[1]))
    return merges


def tokenizer_json(vocab_size: int) -> tuple[str, list[str]]:
    """The tokenizers JSON of the tiny tokenizer and its control tokens (for the wrapper)."""
    from tokenizers import AddedToken, processors

    controls = control_tokens()
    fixed = controls + newline_tokens() + byte_tokens()
    corpus = resources.files("codeassist.gemma4").joinpath("tiny_corpus.txt").read_text("utf-8")
    pieces, merges = learn_pieces(corpus, vocab_size - len(fixed))
    ordered = fixed + pieces
    vocab = {token: index for index, token in enumerate(ordered)}
    if len(vocab) != vocab_size:
        clashes = sorted({token for token in ordered if ordered.count(token) > 1})
        raise RuntimeError(f"tiny tokenizer: learnt pieces clash with fixed tokens: {clashes}")
    merges = newline_merges(vocab, merges)
    backend = _new_backend(vocab, merges)
    backend.add_special_tokens(
        [AddedToken(token, special=True, normalized=False) for token in controls]
    )
    bos = (BOS, FIXED_IDS[BOS])
    # The released tokenizer prepends <bos> when asked for special tokens.
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[bos]
    )
    return backend.to_str(), controls


def build_tokenizer(
    out_dir: Path, vocab_size: int, model_max_length: int, chat_template: str
) -> None:
    """Save the tiny tokenizer (tokenizer.json + config + chat template) into out_dir."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    text, controls = tokenizer_json(vocab_size)
    named = {PAD, EOS, BOS, UNK, MASK}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(text),
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        mask_token=MASK,
        additional_special_tokens=[token for token in controls if token not in named],
        model_max_length=model_max_length,
        add_bos_token=True,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(out_dir)
