namespace Engine.GpuCheck;

/// <summary>The one table the program prints: section, check, status, detail.</summary>
internal sealed class Report
{
    private readonly List<(string section, string check, string status, string detail)> rows = new();

    public int Failures { get; private set; }

    public void Add(string section, string check, bool? ok, string detail)
    {
        rows.Add((section, check, ok switch { true => "ok", false => "FAIL", null => "-" }, detail));
        if (ok == false) Failures++;
    }

    public void Print(TextWriter w)
    {
        string[] head = ["section", "check", "status", "detail"];
        int[] width = new int[4];
        for (int i = 0; i < 4; i++) width[i] = head[i].Length;
        foreach (var r in rows)
        {
            width[0] = Math.Max(width[0], r.section.Length);
            width[1] = Math.Max(width[1], r.check.Length);
            width[2] = Math.Max(width[2], r.status.Length);
            width[3] = Math.Max(width[3], r.detail.Length);
        }
        string Line(string a, string b, string c, string d) =>
            $"| {a.PadRight(width[0])} | {b.PadRight(width[1])} | {c.PadRight(width[2])} | {d.PadRight(width[3])} |";
        w.WriteLine(Line(head[0], head[1], head[2], head[3]));
        w.WriteLine($"|{new string('-', width[0] + 2)}|{new string('-', width[1] + 2)}|{new string('-', width[2] + 2)}|{new string('-', width[3] + 2)}|");
        foreach (var r in rows) w.WriteLine(Line(r.section, r.check, r.status, r.detail));
        w.WriteLine($"{rows.Count} checks, {Failures} failed");
    }

    /// <summary>The report as Markdown (a title, the lines given, the table) and as CSV, each written atomically.</summary>
    public void Write(string directory, IEnumerable<string> header)
    {
        Directory.CreateDirectory(directory);
        var md = new StringWriter();
        md.WriteLine("# Engine GPU check");
        md.WriteLine();
        foreach (var line in header) md.WriteLine(line);
        md.WriteLine();
        Print(md);
        WriteAtomically(Path.Combine(directory, "gpu-check.md"), md.ToString());
        var csv = new StringWriter();
        csv.WriteLine("section,check,status,detail");
        foreach (var r in rows) csv.WriteLine(string.Join(',', new[] { r.section, r.check, r.status, r.detail }.Select(Quote)));
        WriteAtomically(Path.Combine(directory, "gpu-check.csv"), csv.ToString());
    }

    private static string Quote(string field) =>
        field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";

    private static void WriteAtomically(string path, string text)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
