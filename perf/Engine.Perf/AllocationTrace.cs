using System.Diagnostics.Tracing;

namespace Engine.Perf;

/// <summary>
/// Samples the runtime's GC AllocationTick events (one per ~100 KB allocated, naming the type and size of the
/// object that crossed the threshold), so a benchmark can say what its remaining garbage is made of.
/// </summary>
internal sealed class AllocationTrace : EventListener
{
    private readonly Dictionary<(string Type, long Size), (int Count, long Bytes)> seen = [];
    private readonly Lock gate = new();
    private bool on;

    public void Start() { lock (gate) { seen.Clear(); on = true; } }

    public void Stop() { lock (gate) on = false; }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);   // GC keyword
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
        int iType = e.PayloadNames!.IndexOf("TypeName"), iSize = e.PayloadNames.IndexOf("ObjectSize"), iAmount = e.PayloadNames.IndexOf("AllocationAmount64");
        string type = iType >= 0 ? e.Payload[iType]?.ToString() ?? "?" : "?";
        long size = iSize >= 0 ? Convert.ToInt64(e.Payload[iSize], System.Globalization.CultureInfo.InvariantCulture) : 0;
        long amount = iAmount >= 0 ? Convert.ToInt64(e.Payload[iAmount], System.Globalization.CultureInfo.InvariantCulture) : 0;
        lock (gate)
        {
            if (!on) return;
            var key = (type, size);
            var (c, b) = seen.GetValueOrDefault(key);
            seen[key] = (c + 1, b + amount);
        }
    }

    /// <summary>The most frequent (type, object size) pairs with the bytes their ticks stand for.</summary>
    public void Print(TextWriter to, int steps, int top = 15)
    {
        lock (gate)
        {
            to.WriteLine($"  allocation ticks (~100 KB each), per step over {steps} steps: type, size of the sampled object, ticks, MB");
            foreach (var kv in seen.OrderByDescending(kv => kv.Value.Bytes).Take(top))
                to.WriteLine($"    {kv.Key.Type} ({kv.Key.Size} B): {kv.Value.Count / (double)steps:F1} ticks, {kv.Value.Bytes / 1e6 / steps:F2} MB");
        }
    }
}
