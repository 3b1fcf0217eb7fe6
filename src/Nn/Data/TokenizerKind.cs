namespace Engine.Nn.Data;

/// <summary>The kinds of <see cref="Tokenizer"/> (the names are those of <c>--tokenizer</c> and of checkpoint.json).</summary>
public enum TokenizerKind
{
    /// <summary>"char": one token per Unicode code point of the corpus (<see cref="CharTokenizer"/>).</summary>
    Char,
    /// <summary>"gpt2": GPT-2's byte-level BPE with its whole vocabulary of 50,257 ids (<see cref="Gpt2Tokenizer"/>).</summary>
    Gpt2,
    /// <summary>
    /// "gpt2-used": GPT-2's BPE keeping only the ids that occur in the corpus, renumbered 0 … K−1 in the order of the
    /// original ids, plus one unknown id K for every other GPT-2 token (<see cref="Gpt2Tokenizer.FromText"/>).
    /// </summary>
    Gpt2Used,
}
