using System.Globalization;
using System.Text;
using Engine.Nn.Data;
using Engine.Nn.Evaluation;

namespace Engine.Examples.Gpt;

/// <summary>
/// The per-position loss columns shared by <c>extrapolate</c>'s positions.csv and <c>eval</c>'s positions CSV: the
/// doubling buckets [0, L), [L, 2L), [2L, 4L), … (kind "bucket") and the fine curve of L/4-wide bins (kind "curve").
/// </summary>
internal static class PositionsCsv
{
    /// <summary>The columns this class appends after the caller's own.</summary>
    public const string Columns = "kind,pos_from,pos_to,tokens,mean_loss";

    /// <summary>Appends one line per bucket and per curve bin, each starting with <paramref name="prefix"/> (the caller's columns, comma-terminated).</summary>
    public static void AppendRows(StringBuilder sb, string prefix, EvaluationResult result, int trainLength)
    {
        var c = CultureInfo.InvariantCulture;
        foreach (var b in result.Buckets(trainLength)) sb.Append(c, $"{prefix}bucket,{b.From},{b.To},{b.Tokens},{b.MeanLoss:R}\n");
        foreach (var b in result.Curve(EvaluationResult.CurveWidth(trainLength))) sb.Append(c, $"{prefix}curve,{b.From},{b.To},{b.Tokens},{b.MeanLoss:R}\n");
    }

    /// <summary>A bucket's heading relative to L: "[0, L)", "[L, 2L)", "[2L, 4L)", … (the last may end at the window).</summary>
    public static string BucketLabel(PositionBin bin, int trainLength)
    {
        static string Multiple(int positions, int l) => positions == 0 ? "0"
            : positions % l == 0 ? (positions / l == 1 ? "L" : $"{positions / l}L")
            : positions.ToString(CultureInfo.InvariantCulture);
        return $"[{Multiple(bin.From, trainLength)}, {Multiple(bin.To, trainLength)})";
    }
}
