namespace Engine.Nn.Data;

/// <summary>A text as token ids, with the number of UTF-8 bytes of the text that each token stands for.</summary>
/// <param name="Ids">The token ids.</param>
/// <param name="ByteLengths">
/// UTF-8 bytes of the text behind each token (same length as <paramref name="Ids"/>; they sum to the text's UTF-8
/// length). For an unknown id it is the length of the text that was replaced, so bits per byte stay exact.
/// </param>
/// <param name="UnknownCount">Tokens encoded as the unknown id (only <see cref="TokenizerKind.Gpt2Used"/> has one).</param>
public sealed record TokenizedText(int[] Ids, int[] ByteLengths, int UnknownCount)
{
    /// <summary>Total UTF-8 bytes of the text.</summary>
    public long Bytes
    {
        get
        {
            long sum = 0;
            foreach (int b in ByteLengths) sum += b;
            return sum;
        }
    }
}
