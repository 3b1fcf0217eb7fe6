using Engine.Nn.Data;

namespace Engine.Nn.Evaluation;

/// <summary>How a model did on the passkey prompts of one window length and depth.</summary>
/// <param name="Window">Tokens the model reads: the prompt plus the first four answer digits fed back.</param>
/// <param name="PromptLength">Prompt tokens (<see cref="PasskeyPrompts.PromptLengthForWindow"/> of the window).</param>
/// <param name="Depth">The requested depth (fraction of the filler before the key).</param>
/// <param name="Correct">Prompts whose five greedily decoded digits were all right.</param>
/// <param name="Count">Prompts scored.</param>
/// <param name="DigitAccuracy">Fraction of answer digits right, position by position (a softer signal than exact match).</param>
public sealed record PasskeyScore(int Window, int PromptLength, double Depth, int Correct, int Count, double DigitAccuracy)
{
    /// <summary>Exact-match accuracy: <see cref="Correct"/> / <see cref="Count"/>.</summary>
    public double Accuracy => Count == 0 ? double.NaN : Correct / (double)Count;
}

/// <summary>
/// Scores passkey retrieval: for each prompt, the model reads it and decodes <see cref="PasskeyPrompts.KeyDigits"/>
/// tokens greedily (each fed back, so it reads exactly the window); a prompt counts when all digits match the key.
/// Works on any <see cref="INextTokenModel"/>, so oracles and fakes can check the pipeline; one prompt at a time.
/// </summary>
public static class PasskeyProbe
{
    /// <summary>The <see cref="PasskeyPrompts.KeyDigits"/> tokens <paramref name="model"/> decodes greedily after the prompt (ties go to the lower id).</summary>
    /// <exception cref="ArgumentException">The model returned no logits or a NaN.</exception>
    public static int[] GreedyAnswer(INextTokenModel model, PasskeyPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompt);
        var answer = new int[PasskeyPrompts.KeyDigits];
        var logits = model.Start(prompt.Tokens);
        for (int i = 0; i < answer.Length; i++)
        {
            answer[i] = ArgMax(logits);
            if (i + 1 < answer.Length) logits = model.Append(answer[i]);
        }
        return answer;
    }

    /// <summary>
    /// Scores <paramref name="count"/> prompts of one window and depth, built from <paramref name="prompts"/> with a
    /// generator seeded by <paramref name="seed"/> (use <see cref="PromptSeed"/> to give every model the same prompts).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The count is not positive, the window too short, or the depth outside [0, 1].</exception>
    public static PasskeyScore Evaluate(INextTokenModel model, PasskeyPrompts prompts, int window, double depth, int count, ulong seed, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "passkey probe: the number of prompts must be positive");
        PasskeyPrompts.CheckDepth(depth);
        int length = prompts.PromptLengthForWindow(window);
        var rng = new Rng(seed);
        int correct = 0, digits = 0;
        for (int n = 0; n < count; n++)
        {
            cancellation.ThrowIfCancellationRequested();
            var prompt = prompts.Build(length, rng, depth);
            var answer = GreedyAnswer(model, prompt);
            int right = 0;
            for (int i = 0; i < answer.Length; i++) if (answer[i] == prompt.Answer[i]) right++;
            digits += right;
            if (right == answer.Length) correct++;
        }
        return new PasskeyScore(window, length, depth, correct, count, digits / (double)(count * PasskeyPrompts.KeyDigits));
    }

    /// <summary>Scores a <see cref="Gpt"/> (eval mode, KV cache, no gradients; its mode is restored).</summary>
    public static PasskeyScore Evaluate(Gpt model, PasskeyPrompts prompts, int window, double depth, int count, ulong seed, CancellationToken cancellation = default)
    {
        using var next = new GptNextTokenModel(model);
        return Evaluate(next, prompts, window, depth, count, seed, cancellation);
    }

    /// <summary>The seed of the prompts of one (window, depth) cell, derived from a run's seed.</summary>
    public static ulong PromptSeed(ulong seed, int window, double depth)
    {
        var rng = new Rng(seed ^ ((ulong)window * 0x9E3779B97F4A7C15UL) ^ BitConverter.DoubleToUInt64Bits(depth));
        return rng.NextUInt64();
    }

    private static int ArgMax(double[] logits)
    {
        if (logits is null || logits.Length == 0) throw new ArgumentException("passkey probe: the model returned no logits");
        int best = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (double.IsNaN(logits[i])) throw new ArgumentException($"passkey probe: the model returned NaN for token {i}");
            if (logits[i] > logits[best]) best = i;
        }
        return best;
    }
}
